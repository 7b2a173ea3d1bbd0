"""Labelled agent trajectories (tests/data/trajectories.yaml), replayed through the Guardian.

A trajectory is what one agent's pane shows at each Guardian cycle: `add`
appends lines, `replace: N` first drops the pane's last N lines (a CLI
redrawing its bottom, such as a retry countdown). Its label is the problem
the Guardian must catch (healthy: none); a cycle marked `dialog: KIND` is the
one where a dialog appears, and the Guardian must see that kind at that very
cycle. The replay uses the real parts (pane cursor, `look`, the heuristic
judge, `dialog_key`, `llm_due` and the LLM question builder); the LLM is
counted, not called. Used by tests/guardian/test_trajectories.py and
bench/guardian_cost.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from guardian.guardian import llm_due
from guardian.judges import BLOCKED, HeuristicJudge
from guardian.llm_judges import SYSTEM, question
from guardian.observe import Cursor, Observation, advance, dialog_key, look

TRAJECTORIES = Path(__file__).parent / "data" / "trajectories.yaml"
ANSWER_TOKENS = 60
CAPTURE_LINES = 200


def load() -> list[dict[str, Any]]:
    return list(yaml.safe_load(TRAJECTORIES.read_text())["trajectories"])


def tokens(text: str) -> int:
    return len(text) // 4 + 1


@dataclass
class Replay:
    name: str
    label: str
    cycles: int
    expected_dialog: tuple[int, str] | None  # (cycle, kind) where a dialog appears
    steers: list[tuple[int, str]] = field(default_factory=list)  # (cycle, state)
    dialogs: list[tuple[int, str]] = field(default_factory=list)  # (cycle, kind) recorded
    ours: dict[str, int] = field(default_factory=lambda: {"calls": 0, "tokens": 0})
    naive: dict[str, int] = field(default_factory=lambda: {"calls": 0, "tokens": 0})

    @property
    def caught(self) -> list[str]:
        return [state for _, state in self.steers] + ([BLOCKED] if self.dialogs else [])

    @property
    def missed(self) -> bool:
        if self.label == "healthy":
            return False
        if self.expected_dialog is not None:
            return self.expected_dialog not in self.dialogs  # that kind, at that cycle
        return self.label not in self.caught

    @property
    def false_alarm(self) -> bool:
        """A steer where only a dialog (or nothing) was wrong, or a dialog nobody showed."""
        wrong_steer = bool(self.steers) and self.label in ("healthy", BLOCKED)
        return wrong_steer or (bool(self.dialogs) and self.expected_dialog is None)


async def replay(trajectory: dict[str, Any], llm_every: int = 5) -> Replay:
    cursor, judge = Cursor(), HeuristicJudge()
    marked = [(i, c["dialog"]) for i, c in enumerate(trajectory["cycles"]) if "dialog" in c]
    result = Replay(
        trajectory["name"], trajectory["label"], len(trajectory["cycles"]),
        marked[0] if marked else None,
    )  # fmt: skip
    pane: list[str] = []
    for index, cycle in enumerate(trajectory["cycles"]):
        pane = pane[: len(pane) - cycle.get("replace", 0)] + list(cycle["add"])
        pane = pane[-CAPTURE_LINES:]
        capture = "\n".join(pane)
        result.naive["calls"] += 1
        result.naive["tokens"] += tokens(SYSTEM + capture) + ANSWER_TOKENS
        obs = _observe(trajectory, cycle, cursor, capture)
        verdict = await judge.judge(obs)
        if obs.dialog is not None:
            if dialog_key(obs.dialog) != cursor.dialog:  # recorded once while it lasts
                result.dialogs.append((index, obs.dialog.kind))
            cursor.dialog = dialog_key(obs.dialog)
            continue
        cursor.dialog = ""
        if verdict.steering:
            result.steers.append((index, verdict.state))
            cursor.errors.clear()
        elif obs.changed and llm_due(obs, llm_every):
            result.ours["calls"] += 1
            result.ours["tokens"] += tokens(SYSTEM + question(obs)) + ANSWER_TOKENS
            cursor.summary = "a two-sentence summary carried into the next look" * 2
            cursor.unjudged, cursor.since_llm = [], 0
    return result


def _observe(
    trajectory: dict[str, Any], cycle: dict[str, Any], cursor: Cursor, capture: str
) -> Observation:
    added, tail = advance(cursor, capture)
    idle, dialog = look(tail)
    return Observation(
        agent_id="a", task_id="t", run_id="r", phase=trajectory["phase"],
        task_title=trajectory["name"], session="s", worktree=trajectory.get("worktree", ""),
        new_lines=added, tail=tail, unchanged_cycles=cursor.unchanged_cycles,
        at_prompt=idle, busy=False, changed_files=list(cycle.get("files", [])),
        previous_summary=cursor.summary, repeated_errors=dict(cursor.errors),
        unjudged=list(cursor.unjudged), cycles_since_llm=cursor.since_llm, dialog=dialog,
    )  # fmt: skip
