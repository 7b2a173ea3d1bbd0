"""What the launcher shows the operator of its agents: pane tails and branch diff stats.

The server never runs tmux or git, so the launcher, which owns the sessions and the
repository, captures each running agent's pane every `pane_tail_interval` and sends the
tails that changed, stripped of escape sequences, in one `report_live_view` call; every
`diffstat_interval`, and once more when the agent ends (its leftovers committed), it
adds the diff stat of the agent's branch against `heph/<run>`. A report that fails is
logged and retried with the next look: the live view is never worth stopping for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from heph_mcp.client import HephCallError, HephClient
from heph_mcp.live_records import TEXT_MAX
from heph_mcp.printable import strip_terminal, tail_lines
from heph_mcp.settings import Settings
from launcher.git_repo import GitError, GitRepo, run_branch
from launcher.sessions import AgentSession
from launcher.tmux import Tmux

log = logging.getLogger("heph.launcher")


class LiveReporter:
    def __init__(self, settings: Settings, client: HephClient, tmux: Tmux, repo: GitRepo):
        self.settings = settings
        self.client = client
        self.tmux = tmux
        self.repo = repo
        self._sent: dict[str, str] = {}  # agent id -> the tail the server has
        self._stat_due: dict[str, float] = {}  # task id -> monotonic time of its next diff stat

    async def run(
        self, sessions: Callable[[], Iterable[AgentSession]], stop: asyncio.Event
    ) -> None:
        """Look every interval until `stop`; nothing when tails are turned off (interval 0)."""
        interval = self.settings.pane_tail_interval
        while interval > 0 and not stop.is_set():
            await self.look(list(sessions()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def look(self, sessions: list[AgentSession]) -> None:
        tails = [t for t in [await self._tail(s) for s in sessions] if t is not None]
        now = time.monotonic()
        due = [s for s in sessions if s.kind == "work" and self._stat_due.get(s.task_id, 0) <= now]
        stats = [stat for stat in [await self._diffstat(s) for s in due] if stat is not None]
        live = {s.agent_id for s in sessions}
        self._sent = {k: v for k, v in self._sent.items() if k in live}
        if await self._send(tails, stats):
            self._sent.update((t["agent_id"], t["text"]) for t in tails)
            interval = self.settings.diffstat_interval
            self._stat_due.update((s.task_id, now + interval) for s in due)

    async def final(self, session: AgentSession) -> None:
        """The branch as its agent left it (after its leftovers were committed)."""
        self._sent.pop(session.agent_id, None)
        self._stat_due.pop(session.task_id, None)
        if session.kind == "work":
            stat = await self._diffstat(session)
            if stat is not None:
                await self._send([], [stat])

    async def _tail(self, session: AgentSession) -> dict[str, str] | None:
        lines = self.settings.pane_tail_lines
        raw = str(await self.tmux.call("capture", session.session, lines))
        text = tail_lines(strip_terminal(raw), lines, TEXT_MAX)
        if self._sent.get(session.agent_id) == text:
            return None
        return {"agent_id": session.agent_id, "text": text}

    async def _diffstat(self, session: AgentSession) -> dict[str, Any] | None:
        base = run_branch(session.run_id)
        try:
            text, files, added, removed = await self.repo.call("diff_stat", base, session.branch)
        except GitError as exc:
            log.debug("no diff stat for %s: %s", session.task_id, exc)
            return None
        return {"task_id": session.task_id, "base": base, "files": files, "insertions": added,
                "deletions": removed, "text": text[-TEXT_MAX:]}  # fmt: skip

    async def _send(self, tails: list[dict[str, str]], stats: list[dict[str, Any]]) -> bool:
        if not tails and not stats:
            return True
        try:
            await self.client.call("report_live_view", tails=tails, diffstats=stats)
        except HephCallError as exc:
            log.warning("live view not reported (%s); trying again at the next look", exc)
            return False
        return True
