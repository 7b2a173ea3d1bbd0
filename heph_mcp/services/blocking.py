"""When blocked work may start: task dependencies and ticket blockers, in one rule.

A task waits as `blocked` while any task in its `depends_on` is unfinished or
its ticket has an unresolved ticket in `blocked_by`. Both releases (a task
done, a ticket resolved) apply the same rule, so neither can queue a task the
other still holds back.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from heph_mcp.errors import InvalidRequest
from heph_mcp.records import OPEN_STATUSES
from heph_mcp.services.common import now, record_event
from heph_mcp.store import query_all, query_one
from phases import Workflow

# A blocked task `t` that may be queued now.
READY = (
    "t.status = 'blocked' AND NOT EXISTS ("
    "  SELECT 1 FROM task_dependencies d2 JOIN tasks b ON b.id = d2.depends_on"
    "  WHERE d2.task_id = t.id AND b.status != 'done')"
    " AND NOT EXISTS ("
    "  SELECT 1 FROM ticket_blockers tb JOIN tickets bt ON bt.id = tb.blocked_by"
    "  WHERE tb.ticket_id = t.ticket_id AND bt.resolved_at IS NULL)"
)


async def release_ready(
    db: aiosqlite.Connection, where: str, params: tuple[Any, ...], actor: str
) -> list[str]:
    """Queue the blocked tasks matching `where` whose blockers are all gone; their ids."""
    rows = await query_all(
        db, f"SELECT t.id, t.run_id FROM tasks t WHERE {where} AND {READY}", params
    )
    for row in rows:
        await db.execute(
            "UPDATE tasks SET status = 'queued', updated_at = ? WHERE id = ?", (now(), row["id"])
        )
        await record_event(db, actor, "task_unblocked", run_id=row["run_id"], task_id=row["id"])
    return [r["id"] for r in rows]


async def open_ticket_blockers(db: aiosqlite.Connection, ticket_id: str) -> list[str]:
    """The unresolved tickets `ticket_id` waits for."""
    rows = await query_all(
        db,
        "SELECT tb.blocked_by FROM ticket_blockers tb JOIN tickets bt ON bt.id = tb.blocked_by"
        " WHERE tb.ticket_id = ? AND bt.resolved_at IS NULL ORDER BY tb.blocked_by",
        (ticket_id,),
    )
    return [r["blocked_by"] for r in rows]


async def hold_ticket_tasks(db: aiosqlite.Connection, ticket_id: str, actor: str) -> None:
    """A ticket that gained an unresolved blocker holds back its tasks not yet claimed."""
    if not await open_ticket_blockers(db, ticket_id):
        return
    rows = await query_all(
        db, "SELECT id, run_id FROM tasks WHERE ticket_id = ? AND status = 'queued'", (ticket_id,)
    )
    for row in rows:
        await db.execute(
            "UPDATE tasks SET status = 'blocked', updated_at = ? WHERE id = ?", (now(), row["id"])
        )
        await record_event(db, actor, "task_blocked", run_id=row["run_id"], task_id=row["id"])


def find_cycle(edges: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start following `edges` (ticket -> its blockers), if any.

    Depth-first with an explicit stack, so a long chain cannot hit the recursion limit.
    """
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ()), reverse=True):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def require_tickets(workflow: Workflow, run_id: str) -> None:
    """Ticket tools answer only for runs whose workflow enables tickets."""
    if not workflow.config.enable_tickets:
        raise InvalidRequest(
            f"tickets are off for workflow {workflow.name!r} (run {run_id}): its config has"
            " enable_tickets: false; use create_task and get_tasks instead"
        )


async def task_ticket_blockers(db: aiosqlite.Connection, run_id: str, ticket_id: str) -> list[str]:
    """Check a task's ticket is one of its run's; return the tickets it still waits for."""
    row = await query_one(db, "SELECT run_id FROM tickets WHERE id = ?", (ticket_id,))
    if row is None or row["run_id"] != run_id:
        raise InvalidRequest(
            f"ticket_id {ticket_id!r} is not a ticket of run {run_id}; list_tickets lists them"
        )
    return await open_ticket_blockers(db, ticket_id)


async def add_history(
    db: aiosqlite.Connection,
    ticket_id: str,
    actor: str,
    field: str,
    old: str | None,
    new: str | None,
    at: float,
) -> None:
    await db.execute(
        "INSERT INTO ticket_history (ticket_id, actor, field, old, new, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (ticket_id, actor, field, old, new, at),
    )


async def resolve_ticket(
    db: aiosqlite.Connection, ticket: aiosqlite.Row, actor: str, resolution: str, column: str
) -> list[str]:
    """Mark resolved and move to the board's last column; queue the work it held back."""
    ts = now()
    await db.execute(
        "UPDATE tickets SET status = ?, resolution = ?, resolved_by = ?, resolved_at = ?,"
        " updated_at = ? WHERE id = ?",
        (column, resolution, actor, ts, ts, ticket["id"]),
    )
    if ticket["status"] != column:
        await add_history(db, ticket["id"], actor, "status", ticket["status"], column, ts)
    await add_history(db, ticket["id"], actor, "resolved", None, resolution, ts)
    await record_event(db, actor, "ticket_resolved", run_id=ticket["run_id"], ticket=ticket["id"])
    return await release_ready(
        db,
        "t.ticket_id IN (SELECT ticket_id FROM ticket_blockers WHERE blocked_by = ?)",
        (ticket["id"],),
        actor,
    )


async def resolve_when_work_done(
    db: aiosqlite.Connection, task_id: str, actor: str, summary: str, workflow: Workflow
) -> list[str]:
    """A done task resolves its ticket when no other task of that ticket is still open.

    Agents may resolve a ticket themselves (resolve_ticket) with a better
    resolution; this only makes sure finished work never leaves its dependents
    waiting on a ticket nobody remembered to close.
    """
    ticket = await query_one(
        db,
        "SELECT tk.* FROM tickets tk JOIN tasks t ON t.ticket_id = tk.id WHERE t.id = ?",
        (task_id,),
    )
    if ticket is None or ticket["resolved_at"] is not None:
        return []
    marks = ",".join("?" * len(OPEN_STATUSES))
    still_open = await query_one(
        db,
        f"SELECT 1 FROM tasks WHERE ticket_id = ? AND id != ? AND status IN ({marks})",
        (ticket["id"], task_id, *OPEN_STATUSES),
    )
    if still_open is not None:
        return []
    resolution = f"task {task_id} done: {summary}"
    return await resolve_ticket(db, ticket, actor, resolution, workflow.config.board.columns[-1])
