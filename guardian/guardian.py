"""The Guardian: every interval, look at each running agent, judge what is new, steer.

It is an MCP client with the ops role. Per agent it keeps a cursor (the last
pane capture), so only new output is judged; the free heuristic judge runs
every cycle, and an LLM judge (when configured) only when there is new
output the heuristics did not already flag. Steering is recorded on the
server (which rate-limits it) and then announced by typing
`/mcp__hephaestus__guidance` into the pane, only while the agent sits idle at
its prompt; until then the guidance also rides on its next tool result.

An agent held by a dialog (an approval, a trust or login screen, a question,
a rate limit or API error: launcher/dialogs.py) is recorded as
`blocked_on_dialog` with the dialog's words, once per dialog. Nothing is
steered, no LLM is asked, and nothing is typed into its pane until the
dialog is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardian.judges import HeuristicJudge, Judge, Verdict
from guardian.observe import Cursor, Observation, advance, dialog_key, look
from heph_mcp.client import HephCallError, HephClient
from heph_mcp.printable import printable
from launcher.git_repo import GitError, changed_files, run_branch
from launcher.tmux import Tmux
from launcher.usage import UsageReader, report_usage

log = logging.getLogger("heph.guardian")
GUIDANCE_COMMAND = "/mcp__hephaestus__guidance"
Observer = Callable[[str, dict[str, Any]], None]


def llm_due(obs: Observation, every: int) -> bool:
    """The LLM looks at an agent's first output, then every `every` cycles with new output."""
    return bool(obs.unjudged) and (obs.cycles_since_llm >= every or not obs.previous_summary)


@dataclass
class CycleStats:
    agents: int = 0
    judged: int = 0
    llm_calls: int = 0
    skipped: int = 0
    steers_typed: int = 0


class Guardian:
    def __init__(
        self,
        client: HephClient,
        tmux: Tmux,
        *,
        worker: str,
        llm: Judge | None = None,
        llm_every: int = 5,
        cancel_duplicates: bool = False,
        heuristic: HeuristicJudge | None = None,
        observer: Observer | None = None,
    ):
        self.client = client
        self.tmux = tmux
        self.worker = worker
        self.llm = llm
        self.llm_every = llm_every
        self.cancel_duplicates = cancel_duplicates
        self.heuristic = heuristic or HeuristicJudge()
        self.cursors: dict[str, Cursor] = {}
        self.overlaps_steered: set[tuple[str, str]] = set()
        self.to_announce: set[str] = set()
        self.usage: dict[str, UsageReader] = {}
        self._observe = observer or (lambda kind, data: None)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            await self.cycle()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def cycle(self) -> CycleStats:
        listed = await self.client.call("list_agents", worker=self.worker)
        running = [a for a in listed.get("agents", []) if a.get("task_status") == "running"]
        stats = CycleStats(agents=len(running))
        for agent in running:
            await self._watch(agent, stats)
            await self._report_usage(agent)
        live = {a["id"] for a in running}
        self.cursors = {k: v for k, v in self.cursors.items() if k in live}
        self.usage = {k: v for k, v in self.usage.items() if k in live}
        self.to_announce &= live
        await self.conduct(live)
        return stats

    async def conduct(self, mine: set[str]) -> None:
        """Whole-run view: steer the later of two agents doing the same work; restart stalls."""
        for overlap in (await self.client.call("running_overlaps")).get("overlaps", []):
            key = (overlap["earlier_task"], overlap["later_task"])
            if overlap["later_agent"] not in mine or key in self.overlaps_steered:
                continue
            self.overlaps_steered.add(key)
            if self.cancel_duplicates:
                await self._cancel_overlap(overlap)
            else:
                await self._steer_overlap(overlap)
        created = (await self.client.call("diagnose_stalled_runs")).get("created", [])
        for task in created:
            self._observe("diagnosed", {"run_id": task["run_id"], "task_id": task["id"]})

    async def _cancel_overlap(self, overlap: dict[str, Any]) -> None:
        reason = (
            f"cancelled by the Guardian: the same work as task {overlap['earlier_task']} "
            f"({overlap['earlier_title'][:100]}), similarity {overlap['score']:.2f}"
        )
        with contextlib.suppress(HephCallError):
            await self.client.call("cancel_task", task_id=overlap["later_task"], reason=reason)
            self._observe("cancelled", overlap)

    async def _steer_overlap(self, overlap: dict[str, Any]) -> None:
        steering = (
            f"Task {overlap['earlier_task']} ({overlap['earlier_title'][:100]}) is already being "
            f"done by another agent and looks like the same work as yours (similarity "
            f"{overlap['score']:.2f}). Check get_agent_status; do only what your task adds, "
            "or report done with a pointer to that task."
        )
        with contextlib.suppress(HephCallError):
            recorded = await self.client.call(
                "record_analysis", agent_id=overlap["later_agent"], judge="conductor",
                state="drifting", alignment=0.3, summary="duplicates another agent's work",
                steering=steering,
            )  # fmt: skip
            if recorded.get("guidance_id"):
                self.to_announce.add(overlap["later_agent"])
            self._observe("overlap", {**overlap, **recorded})

    async def _watch(self, agent: dict[str, Any], stats: CycleStats) -> None:
        observation = await self.observe(agent)
        if observation is None:
            return
        verdict = await self._judge(observation, stats)
        if verdict is not None:
            await self._record(observation, verdict)
        if agent["id"] in self.to_announce and observation.at_prompt:
            await self.tmux.call("send_literal", observation.session, GUIDANCE_COMMAND)
            self.to_announce.discard(agent["id"])
            stats.steers_typed += 1
            self._observe("announced", {"agent_id": agent["id"]})

    async def observe(self, agent: dict[str, Any]) -> Observation | None:
        capture = str(await self.tmux.call("capture", agent["session_name"], 200))
        if not capture:
            return None  # the session is gone; the launcher settles it
        cursor = self.cursors.setdefault(agent["id"], Cursor())
        transcript = []
        if agent.get("cli") == "claude" and agent.get("worktree"):
            transcript = await asyncio.to_thread(cursor.transcript.read_new, agent["worktree"])
        added, tail = advance(cursor, capture, transcript)
        if not cursor.task:  # an agent's task never changes: read it once
            cursor.task = await self.client.call("get_task", task_id=agent["task_id"])
        idle, dialog = look(tail)
        return Observation(
            agent_id=agent["id"], task_id=agent["task_id"], run_id=agent["run_id"],
            phase=cursor.task.get("phase_name", ""), task_title=cursor.task.get("title", ""),
            session=agent["session_name"], worktree=agent.get("worktree") or "",
            new_lines=added, tail=tail, unchanged_cycles=cursor.unchanged_cycles,
            at_prompt=idle, busy=not idle and bool(added),
            changed_files=await self._changed(agent), previous_summary=cursor.summary,
            repeated_errors=dict(cursor.errors), unjudged=list(cursor.unjudged),
            cycles_since_llm=cursor.since_llm, dialog=dialog,
        )  # fmt: skip

    async def _judge(self, obs: Observation, stats: CycleStats) -> Verdict | None:
        """Heuristics every cycle (free); the LLM every `llm_every` cycles, on what is new.

        Acute trouble (a dialog, drift, loops, stalls) is the heuristics' job and is
        caught at once; the LLM's slower look at alignment sees everything new since
        its last, but never overrides a dialog.
        """
        verdict = await self.heuristic.judge(obs)
        if obs.dialog is not None:
            return self._blocked(obs, verdict, stats)
        self.cursors[obs.agent_id].dialog = ""
        if verdict.steering is None and not obs.changed:
            stats.skipped += 1
            return None
        stats.judged += 1
        if verdict.steering is None and self._llm_due(obs):
            stats.llm_calls += 1
            verdict = await self.llm.judge(obs)  # type: ignore[union-attr]
            await self._report_judging(obs, verdict)
            cursor = self.cursors[obs.agent_id]
            cursor.unjudged, cursor.since_llm = [], 0
            verdict.summary = verdict.summary or obs.previous_summary
        return verdict

    def _blocked(self, obs: Observation, verdict: Verdict, stats: CycleStats) -> Verdict | None:
        """A dialog is recorded once while it lasts (a retry countdown ticking every cycle
        is one record); no LLM is asked and nothing is steered: only a person can answer."""
        cursor = self.cursors[obs.agent_id]
        key = dialog_key(obs.dialog)
        if key == cursor.dialog:
            stats.skipped += 1
            return None
        cursor.dialog = key
        stats.judged += 1
        log.warning("agent %s: %s", obs.agent_id, verdict.summary)
        return verdict

    def _llm_due(self, obs: Observation) -> bool:
        return self.llm is not None and llm_due(obs, self.llm_every)

    async def _record(self, obs: Observation, verdict: Verdict) -> None:
        judge = self.heuristic.name if verdict.tokens_in == 0 else getattr(self.llm, "name", "llm")
        try:
            recorded = await self.client.call(
                "record_analysis",
                agent_id=obs.agent_id, judge=judge, state=verdict.state,
                # Pane lines and a model's words: the server takes printable text only.
                alignment=verdict.alignment, summary=printable(verdict.summary)[:4000],
                steering=verdict.steering and printable(verdict.steering),
                severity=verdict.severity,
                tokens_in=verdict.tokens_in, tokens_out=verdict.tokens_out,
            )  # fmt: skip
        except HephCallError as exc:  # the agent exited meanwhile: nothing to steer
            log.info("analysis of %s not recorded: %s", obs.agent_id, exc)
            return
        self.cursors[obs.agent_id].summary = verdict.summary
        if recorded.get("guidance_id"):
            self.to_announce.add(obs.agent_id)
            # A new steer about an error starts its count again.
            self.cursors[obs.agent_id].errors.clear()
        self._observe("analysis", {"agent_id": obs.agent_id, "state": verdict.state, **recorded})

    async def _report_usage(self, agent: dict[str, Any]) -> None:
        """The agent's tokens so far, from its Claude Code transcripts (cost and budget); other
        CLIs have none, and finding none costs one stat."""
        if not agent.get("worktree"):
            return
        reader = self.usage.setdefault(agent["id"], UsageReader())
        try:
            await report_usage(self.client, reader, agent["id"], agent["worktree"])
        except (HephCallError, OSError) as exc:
            log.info("usage of %s not reported: %s", agent["id"], exc)

    async def _report_judging(self, obs: Observation, verdict: Verdict) -> None:
        """The Guardian's own LLM use counts in the run's cost, keyed per call."""
        entry = {
            "key": f"judge-{uuid.uuid4().hex}", "model": verdict.model or self.llm_name,
            "input_tokens": verdict.tokens_in, "output_tokens": verdict.tokens_out,
        }  # fmt: skip
        with contextlib.suppress(HephCallError):
            await self.client.call(
                "record_usage", agent_id=obs.agent_id, entries=[entry], source="guardian"
            )

    @property
    def llm_name(self) -> str:
        return str(getattr(self.llm, "model", None) or getattr(self.llm, "name", "llm"))

    async def _changed(self, agent: dict[str, Any]) -> list[str]:
        if not agent.get("worktree"):
            return []
        try:
            return await asyncio.to_thread(
                changed_files, Path(agent["worktree"]), run_branch(agent["run_id"])
            )
        except GitError:
            return []
