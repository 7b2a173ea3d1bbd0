"""Turns ticket rows into records: summaries for lists, the whole story for one ticket."""

from __future__ import annotations

from typing import Any

from heph_mcp.errors import NotFound
from heph_mcp.records import iso
from heph_mcp.store import Store
from heph_mcp.ticket_records import (
    LinkedCommit,
    LinkedTask,
    Ticket,
    TicketChange,
    TicketComment,
    TicketSummary,
)

# For a ticket `tk`: how many of its blockers are still unresolved.
OPEN_BLOCKERS = (
    "(SELECT COUNT(*) FROM ticket_blockers tb JOIN tickets bt ON bt.id = tb.blocked_by"
    " WHERE tb.ticket_id = tk.id AND bt.resolved_at IS NULL)"
)


def missing(ticket_id: str) -> NotFound:
    return NotFound(f"no ticket {ticket_id!r}; list_tickets lists the tickets you can see")


class TicketReader:
    def __init__(self, store: Store):
        self._store = store

    async def summaries(
        self, where: str, params: tuple[Any, ...] = (), limit: int = 1000
    ) -> list[TicketSummary]:
        rows = await self._store.fetchall(
            f"SELECT tk.*, {OPEN_BLOCKERS} AS open_blockers FROM tickets tk WHERE {where}"
            " ORDER BY tk.created_at, tk.rowid LIMIT ?",
            (*params, limit),
        )
        blockers = await self._blockers([r["id"] for r in rows])
        return [
            TicketSummary.from_row(r, blockers.get(r["id"], []), r["open_blockers"]) for r in rows
        ]

    async def one(self, ticket_id: str) -> Ticket:
        rows = await self._store.fetchall(
            f"SELECT tk.*, {OPEN_BLOCKERS} AS open_blockers FROM tickets tk WHERE tk.id = ?",
            (ticket_id,),
        )
        if not rows:
            raise missing(ticket_id)
        blockers = await self._blockers([ticket_id])
        ticket: Ticket = Ticket.from_row(
            rows[0], blockers.get(ticket_id, []), rows[0]["open_blockers"]
        )
        ticket.blocks = [
            r["ticket_id"]
            for r in await self._store.fetchall(
                "SELECT ticket_id FROM ticket_blockers WHERE blocked_by = ? ORDER BY ticket_id",
                (ticket_id,),
            )
        ]
        ticket.comments = [
            TicketComment(id=r["id"], author=r["author"], text=r["text"], at=iso(r["at"]))
            for r in await self._store.fetchall(
                "SELECT * FROM ticket_comments WHERE ticket_id = ? ORDER BY id", (ticket_id,)
            )
        ]
        ticket.history = [
            TicketChange(
                actor=r["actor"], field=r["field"], old=r["old"], new=r["new"], at=iso(r["at"])
            )
            for r in await self._store.fetchall(
                "SELECT * FROM ticket_history WHERE ticket_id = ? ORDER BY id", (ticket_id,)
            )
        ]
        await self._work(ticket)
        return ticket

    async def _work(self, ticket: Ticket) -> None:
        """The tasks tied to the ticket and the commits their merges made."""
        rows = await self._store.fetchall(
            "SELECT id, title, phase, status, merge_state, merge_commit FROM tasks"
            " WHERE ticket_id = ? ORDER BY created_at, rowid",
            (ticket.id,),
        )
        ticket.tasks = [
            LinkedTask(id=r["id"], title=r["title"], phase=r["phase"], status=r["status"])
            for r in rows
        ]
        ticket.commits = [
            LinkedCommit(task_id=r["id"], commit=r["merge_commit"])
            for r in rows
            if r["merge_state"] == "merged" and r["merge_commit"]
        ]

    async def _blockers(self, ticket_ids: list[str]) -> dict[str, list[str]]:
        if not ticket_ids:
            return {}
        marks = ",".join("?" * len(ticket_ids))
        rows = await self._store.fetchall(
            f"SELECT ticket_id, blocked_by FROM ticket_blockers WHERE ticket_id IN ({marks})"
            " ORDER BY blocked_by",
            ticket_ids,
        )
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row["ticket_id"], []).append(row["blocked_by"])
        return found
