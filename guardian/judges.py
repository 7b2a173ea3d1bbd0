"""Judges turn an observation into a verdict: the agent's state, alignment and any steering.

The offline heuristic judge needs no LLM and runs every cycle; LLM judges
(see llm_judges.py) are asked only when there is new output to judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from guardian.observe import Observation

ANALYSIS_PHASES = re.compile(
    r"analy|design|reproduce|recon|survey|audit|requirement|investigat|plan|review", re.IGNORECASE
)
BLOCKED = "blocked_on_dialog"
NOT_SOURCE = re.compile(r"(\.md|\.txt|\.rst|\.adoc)$|^(docs?|notes)/", re.IGNORECASE)
# A file tool's target or a `cd`'s folder, each standing as its own word: a path that
# merely contains "cd" (a task id such as "tfdda9acd/brief.md") is no `cd` command.
AIMED_AT = re.compile(r"(?<![\w/.-])(?:(?:Write|Update|Edit)\(\s*|cd[ \t]+)(/[^\s)]+)")


@dataclass
class Verdict:
    state: str
    alignment: float
    summary: str
    steering: str | None = None
    severity: str = "warning"
    tokens_in: int = 0
    tokens_out: int = 0
    model: str = ""  # the LLM that judged, for its price


class Judge(Protocol):
    name: str

    async def judge(self, observation: Observation) -> Verdict: ...


@dataclass
class HeuristicSettings:
    stall_cycles: int = 3
    repeat_errors: int = 3
    idle_cycles: int = 2


class HeuristicJudge:
    """Rules that catch the common failures without any model call."""

    name = "heuristic"

    def __init__(self, settings: HeuristicSettings | None = None):
        self.settings = settings or HeuristicSettings()

    async def judge(self, observation: Observation) -> Verdict:
        rules = (self._dialog, self._outside, self._phase, self._looping, self._idle, self._stalled)
        for rule in rules:
            verdict = rule(observation)
            if verdict is not None:
                return verdict
        state = "implementing" if observation.changed else "exploring"
        return Verdict(state, 0.8, _summary(observation))

    def _dialog(self, obs: Observation) -> Verdict | None:
        """First: an agent held by a dialog reads nothing, so it is never steered (or typed at).

        Without this it would look stalled and be told to change approach by guidance it
        cannot receive; a person (or a policy) has to answer the dialog.
        """
        if obs.dialog is None:
            return None
        return Verdict(BLOCKED, 0.5, obs.dialog.label(), steering=None, severity="info")

    def _phase(self, obs: Observation) -> Verdict | None:
        if not ANALYSIS_PHASES.search(obs.phase):
            return None
        source = [f for f in obs.changed_files if not NOT_SOURCE.search(f)]
        if not source:
            return None
        return Verdict(
            "drifting", 0.2, f"edits source files {source[:5]} in the {obs.phase} phase",
            steering=(
                f"You are in the '{obs.phase}' phase: do not change source files "
                f"({', '.join(source[:5])}). Revert them, record what you found, and create "
                "an implementation task with create_task for the change instead."
            ),
        )  # fmt: skip

    def _outside(self, obs: Observation) -> Verdict | None:
        paths = AIMED_AT.findall("\n".join(obs.new_lines))
        root = obs.worktree.rstrip("/")
        outside = [p for p in paths if root and p != root and not p.startswith(root + "/")]
        if not outside:
            return None
        return Verdict(
            "drifting", 0.1, f"works outside its worktree: {outside[:3]}",
            steering=(
                f"Stay inside your worktree {obs.worktree}: you touched {outside[0]}. "
                "Other agents own other folders; undo that change."
            ),
            severity="severe",
        )  # fmt: skip

    def _looping(self, obs: Observation) -> Verdict | None:
        worst = max(obs.repeated_errors.items(), key=lambda kv: kv[1], default=None)
        if worst is None or worst[1] < self.settings.repeat_errors:
            return None
        return Verdict(
            "looping", 0.3, f"the same error {worst[1]} times: {worst[0][:120]}",
            steering=(
                f"You have hit the same error {worst[1]} times: {worst[0][:200]}. Stop retrying "
                "the same fix: read the error, check find_memories for it, and try a different "
                "approach (or report the task failed with what you learned)."
            ),
        )  # fmt: skip

    def _idle(self, obs: Observation) -> Verdict | None:
        if not obs.at_prompt or obs.unchanged_cycles < self.settings.idle_cycles:
            return None
        return Verdict(
            "finished_unreported", 0.5, "idle at its prompt without reporting its task",
            steering=(
                "You are idle but your task is not reported. If it is finished, call "
                "update_task_status(status='done', summary=...) now; if not, continue it."
            ),
        )  # fmt: skip

    def _stalled(self, obs: Observation) -> Verdict | None:
        if obs.busy or obs.unchanged_cycles < self.settings.stall_cycles:
            return None
        return Verdict(
            "stuck", 0.4, f"no new output for {obs.unchanged_cycles} cycles",
            steering=(
                "No progress for a while. Say what you are waiting for; if you are stuck, "
                "save what you learned with save_memory and try another approach."
            ),
        )  # fmt: skip


def _summary(obs: Observation) -> str:
    last = next((line.strip() for line in reversed(obs.new_lines) if line.strip()), "")
    return f"working on {obs.task_title[:80]}; last output: {last[:160]}"
