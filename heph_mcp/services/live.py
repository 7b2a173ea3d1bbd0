"""The live view: running agents' pane tails and their branches' diff stats.

The server never runs tmux or git: launchers capture panes and diff their branches,
and report both through the ops tool `report_live_view`. Tails change every second
or two and matter only while their agent runs, so they stay in memory, ordered by a
sequence number the board's event stream follows (writing them to SQLite would move
the store's commit counter and make every open page rebuild its whole snapshot). A
diff stat outlives its branch (merged branches are deleted), so it is stored.
"""

from __future__ import annotations

from heph_mcp.errors import NotFound
from heph_mcp.live_records import (
    TEXT_MAX,
    AgentOutput,
    DiffStat,
    DiffStatReport,
    LiveReported,
    PaneTail,
    TailReport,
)
from heph_mcp.printable import strip_terminal
from heph_mcp.records import Principal, iso
from heph_mcp.services.common import now
from heph_mcp.store import Store


class LiveService:
    def __init__(self, store: Store):
        self._store = store
        self._tails: dict[str, PaneTail] = {}
        self.seq = 0  # moves with every stored tail; the event stream compares it

    async def report(
        self, principal: Principal, tails: list[TailReport], diffstats: list[DiffStatReport]
    ) -> LiveReported:
        """Store what a launcher saw; forget the tails of agents that are no longer running."""
        running = await self._running()
        ignored = [f"{t.agent_id}: not a running agent" for t in tails if t.agent_id not in running]
        stored = 0
        for report in tails:
            agent = running.get(report.agent_id)
            if agent is None:
                continue
            text = strip_terminal(report.text)[-TEXT_MAX:]
            known = self._tails.get(report.agent_id)
            if known is None or known.text != text:
                self.seq += 1
                self._tails[report.agent_id] = PaneTail(
                    agent_id=report.agent_id, task_id=agent[0], run_id=agent[1], text=text,
                    at=now(), seq=self.seq,
                )  # fmt: skip
            stored += 1
        for gone in set(self._tails) - set(running):
            del self._tails[gone]
        saved, missing = await self._save_diffstats(principal, diffstats)
        return LiveReported(tails=stored, diffstats=saved, ignored=ignored + missing)

    async def _running(self) -> dict[str, tuple[str, str]]:
        rows = await self._store.fetchall(
            "SELECT id, task_id, run_id FROM agents WHERE status = 'running'"
        )
        return {r["id"]: (r["task_id"], r["run_id"]) for r in rows}

    async def _save_diffstats(
        self, principal: Principal, reports: list[DiffStatReport]
    ) -> tuple[int, list[str]]:
        if not reports:
            return 0, []
        missing: list[str] = []
        async with self._store.transaction() as db:
            for r in reports:
                found = await db.execute_fetchall("SELECT 1 FROM tasks WHERE id = ?", (r.task_id,))
                if not list(found):
                    missing.append(f"{r.task_id}: no such task")
                    continue
                await db.execute(
                    "INSERT OR REPLACE INTO task_diffstats (task_id, base, files, insertions,"
                    " deletions, text, reported_by, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.task_id, r.base, r.files, r.insertions, r.deletions,
                     strip_terminal(r.text)[-TEXT_MAX:], principal.id, now()),
                )  # fmt: skip
        return len(reports) - len(missing), missing

    def tails(self) -> list[PaneTail]:
        return sorted(self._tails.values(), key=lambda t: t.seq)

    def changed_since(self, seq: int) -> list[PaneTail]:
        """Tails stored after `seq`, oldest first (what a stream that saw `seq` has missed)."""
        return [t for t in self.tails() if t.seq > seq]

    async def diffstat(self, task_id: str) -> DiffStat | None:
        row = await self._store.fetchone(
            "SELECT task_id, base, files, insertions, deletions, text, at FROM task_diffstats"
            " WHERE task_id = ?",
            (task_id,),
        )
        if row is None:
            return None
        return DiffStat.model_validate({**dict(row), "at": iso(row["at"])})

    async def agent_output(self, agent_id: str) -> AgentOutput:
        row = await self._store.fetchone(
            "SELECT id, task_id, status FROM agents WHERE id = ?", (agent_id,)
        )
        if row is None:
            raise NotFound(f"no agent {agent_id!r}; get_agent_status lists the running agents")
        tail = self._tails.get(agent_id) if row["status"] == "running" else None
        return AgentOutput(
            agent_id=row["id"], task_id=row["task_id"], status=row["status"], tail=tail
        )
