"""Kanban tickets of a run, for workflows that enable them.

A ticket is the *why* (a bug, a feature) that tasks work on: tasks tie to a
ticket with `ticket_id`, a ticket waits on others through `blocked_by`, and
its tasks wait as `blocked` until every blocker is resolved. Every change is
one transaction with a history entry (who, which field, from, to, when), so
bad input changes nothing and the story of a ticket can always be read back.
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from heph_mcp.errors import Conflict, InvalidRequest
from heph_mcp.notify import Notifier
from heph_mcp.records import PRIORITY_NAME, PRIORITY_VALUE, Principal
from heph_mcp.services.blocking import (
    add_history,
    find_cycle,
    hold_ticket_tasks,
    release_ready,
    require_tickets,
    resolve_ticket,
)
from heph_mcp.services.common import (
    RunWorkflows,
    new_id,
    now,
    record_event,
    require_active_run,
    target_run,
)
from heph_mcp.services.ticket_reader import OPEN_BLOCKERS, TicketReader, missing
from heph_mcp.services.ticket_search import TicketSearch, ticket_text
from heph_mcp.store import Store, query_all, query_one
from heph_mcp.ticket_records import Ticket, TicketHit, TicketSummary
from phases import Workflow

EDITABLE = ("title", "description", "type", "priority", "assignee", "tags")


class TicketService:
    def __init__(
        self,
        store: Store,
        run_workflows: RunWorkflows,
        search: TicketSearch,
        notifier: Notifier | None = None,
    ):
        self._store = store
        self._workflows = run_workflows
        self._search = search
        self._notifier = notifier or Notifier()
        self.reader = TicketReader(store)

    async def create(
        self,
        principal: Principal,
        *,
        title: str,
        description: str,
        type: str = "task",
        priority: str = "medium",
        assignee: str | None = None,
        tags: list[str] | None = None,
        blocked_by: list[str] | None = None,
        run: str | None = None,
    ) -> Ticket:
        if not title.strip() or not description.strip():
            raise InvalidRequest("title and description must not be blank")
        run_id, workflow = await self._run(principal, run)
        ticket_id, ts, tags = new_id("tk"), now(), sorted(set(tags or []))
        async with self._store.transaction() as db:
            await require_active_run(db, run_id, "tickets")
            await self._check_blockers(db, run_id, ticket_id, sorted(set(blocked_by or [])))
            await db.execute(
                "INSERT INTO tickets (id, run_id, title, description, type, priority, status,"
                " created_by, assignee, tags, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ticket_id,
                    run_id,
                    title.strip(),
                    description,
                    type,
                    PRIORITY_VALUE[priority],
                    workflow.config.board.columns[0],
                    principal.id,
                    assignee or None,
                    json.dumps(tags),
                    ts,
                    ts,
                ),
            )
            await _set_blockers(db, ticket_id, sorted(set(blocked_by or [])))
            await add_history(db, ticket_id, principal.id, "created", None, title.strip(), ts)
            await record_event(db, principal.id, "ticket_created", run_id=run_id, ticket=ticket_id)
            await _refresh_words(db, ticket_id)
        await self._search.index_meaning(
            ticket_id, run_id, ticket_text(title.strip(), description, tags)
        )
        return await self.reader.one(ticket_id)

    async def update(self, principal: Principal, ticket_id: str, **changes: Any) -> Ticket:
        """Change the given fields (None leaves one as is; assignee "" clears it)."""
        row, _ = await self._ticket(principal, ticket_id)
        if changes.get("title") is not None and not changes["title"].strip():
            raise InvalidRequest("title must not be blank")
        if changes.get("description") is not None and not changes["description"].strip():
            raise InvalidRequest("description must not be blank")
        blocked_by = changes.pop("blocked_by", None)
        released: list[str] = []
        async with self._store.transaction() as db:
            row = await _row(db, ticket_id)
            ts = now()
            changed = await _apply_fields(db, row, principal.id, changes, ts)
            if blocked_by is not None:
                moved, released = await self._change_blockers(
                    db, row, principal.id, sorted(set(blocked_by)), ts
                )
                changed |= moved
            if changed:
                await db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (ts, ticket_id))
                await _refresh_words(db, ticket_id)
        if {"title", "description", "tags"} & {k for k, v in changes.items() if v is not None}:
            fresh = await self.reader.one(ticket_id)
            await self._search.index_meaning(
                ticket_id, fresh.run_id, ticket_text(fresh.title, fresh.description, fresh.tags)
            )
        if released:
            await self._notifier.queue_changed()
        return await self.reader.one(ticket_id)

    async def change_status(self, principal: Principal, ticket_id: str, status: str) -> Ticket:
        _, workflow = await self._ticket(principal, ticket_id)
        columns = workflow.config.board.columns
        if status not in columns:
            raise InvalidRequest(
                f"status {status!r} is not a column of workflow {workflow.name!r}'s board;"
                f" columns are: {', '.join(columns)}"
            )
        async with self._store.transaction() as db:
            row = await _row(db, ticket_id)
            if row["resolved_at"] is not None:
                raise Conflict(
                    f"ticket {ticket_id} is resolved ({row['resolution']}); its status stays"
                    f" {row['status']!r}"
                )
            if row["status"] != status:
                ts = now()
                await db.execute(
                    "UPDATE tickets SET status = ?, updated_at = ? WHERE id = ?",
                    (status, ts, ticket_id),
                )
                await add_history(db, ticket_id, principal.id, "status", row["status"], status, ts)
        return await self.reader.one(ticket_id)

    async def comment(self, principal: Principal, ticket_id: str, text: str) -> Ticket:
        if not text.strip():
            raise InvalidRequest("a comment must not be blank")
        await self._ticket(principal, ticket_id)
        async with self._store.transaction() as db:
            ts = now()
            await db.execute(
                "INSERT INTO ticket_comments (ticket_id, author, text, at) VALUES (?, ?, ?, ?)",
                (ticket_id, principal.id, text, ts),
            )
            await db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (ts, ticket_id))
            await _refresh_words(db, ticket_id)
        return await self.reader.one(ticket_id)

    async def resolve(self, principal: Principal, ticket_id: str, resolution: str) -> Ticket:
        """Resolve once; tasks of tickets it was the last open blocker of are queued."""
        if not resolution.strip():
            raise InvalidRequest("resolution must not be blank: say what was done")
        _, workflow = await self._ticket(principal, ticket_id)
        async with self._store.transaction() as db:
            row = await _row(db, ticket_id)
            if row["resolved_at"] is not None:
                raise Conflict(f"ticket {ticket_id} is already resolved: {row['resolution']}")
            column = workflow.config.board.columns[-1]
            released = await resolve_ticket(db, row, principal.id, resolution, column)
        if released:
            await self._notifier.queue_changed()
        return await self.reader.one(ticket_id)

    async def get(self, principal: Principal, ticket_id: str) -> Ticket:
        await self._ticket(principal, ticket_id)
        return await self.reader.one(ticket_id)

    async def find(
        self, principal: Principal, *, run: str | None = None, limit: int = 100, **filters: Any
    ) -> list[TicketSummary]:
        run_id, _ = await self._run(principal, run)
        clauses: list[str] = ["tk.run_id = ?"]
        params: list[Any] = [run_id]
        for field in ("status", "type", "assignee"):
            if filters.get(field) is not None:
                clauses.append(f"tk.{field} = ?")
                params.append(filters[field])
        if filters.get("priority") is not None:
            clauses.append("tk.priority = ?")
            params.append(PRIORITY_VALUE[filters["priority"]])
        if filters.get("resolved") is not None:
            clauses.append(f"tk.resolved_at IS {'NOT ' if filters['resolved'] else ''}NULL")
        if filters.get("blocked") is not None:
            clauses.append(f"{OPEN_BLOCKERS} {'>' if filters['blocked'] else '='} 0")
        return await self.reader.summaries(" AND ".join(clauses), tuple(params), limit)

    async def search(
        self, principal: Principal, query: str, *, limit: int = 10, run: str | None = None
    ) -> list[TicketHit]:
        if not query.strip():
            raise InvalidRequest("query must not be blank")
        run_id, _ = await self._run(principal, run)
        ranked = await self._search.search(run_id, query, limit)
        if not ranked:
            return []
        marks = ",".join("?" * len(ranked))
        found = await self.reader.summaries(f"tk.id IN ({marks})", tuple(r.id for r in ranked))
        by_id = {t.id: t for t in found}
        return [
            TicketHit(
                ticket=by_id[r.id],
                score=r.score,
                keyword_rank=r.keyword_rank,
                semantic_rank=r.semantic_rank,
            )
            for r in ranked
            if r.id in by_id
        ]

    async def _run(self, principal: Principal, run: str | None) -> tuple[str, Workflow]:
        """The run a call acts on: an agent's own, or the one a user names."""
        run_id = target_run(principal, run, "see tickets")
        workflow = await self._workflows.get(run_id)
        require_tickets(workflow, run_id)
        return run_id, workflow

    async def _ticket(self, principal: Principal, ticket_id: str) -> tuple[aiosqlite.Row, Workflow]:
        """A ticket the caller may see; other runs' tickets look missing to agents."""
        if principal.role == "agent":
            await self._run(principal, None)  # says "tickets are off" before "no ticket"
        row = await self._store.fetchone("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        if row is None or (principal.role == "agent" and row["run_id"] != principal.run_id):
            raise missing(ticket_id)
        workflow = await self._workflows.get(row["run_id"])
        require_tickets(workflow, row["run_id"])
        return row, workflow

    async def _change_blockers(
        self, db: aiosqlite.Connection, row: aiosqlite.Row, actor: str, new: list[str], ts: float
    ) -> tuple[bool, list[str]]:
        """Replace blocked_by; hold back or release the ticket's tasks to match.

        Returns whether blocked_by changed, and the tasks it released.
        """
        ticket_id = row["id"]
        old = [
            r["blocked_by"]
            for r in await query_all(
                db,
                "SELECT blocked_by FROM ticket_blockers WHERE ticket_id = ? ORDER BY blocked_by",
                (ticket_id,),
            )
        ]
        if old == new:
            return False, []
        await self._check_blockers(db, row["run_id"], ticket_id, new)
        await db.execute("DELETE FROM ticket_blockers WHERE ticket_id = ?", (ticket_id,))
        await _set_blockers(db, ticket_id, new)
        await add_history(db, ticket_id, actor, "blocked_by", json.dumps(old), json.dumps(new), ts)
        await hold_ticket_tasks(db, ticket_id, actor)
        return True, await release_ready(db, "t.ticket_id = ?", (ticket_id,), actor)

    @staticmethod
    async def _check_blockers(
        db: aiosqlite.Connection, run_id: str, ticket_id: str, blocked_by: list[str]
    ) -> None:
        """Blockers must be tickets of the same run and must not close a cycle."""
        if not blocked_by:
            return
        rows = await query_all(
            db,
            "SELECT id, blocked_by FROM tickets LEFT JOIN ticket_blockers"
            " ON ticket_blockers.ticket_id = tickets.id WHERE run_id = ?",
            (run_id,),
        )
        edges: dict[str, set[str]] = {}
        for r in rows:
            edges.setdefault(r["id"], set()).update([r["blocked_by"]] if r["blocked_by"] else [])
        unknown = sorted(set(blocked_by) - set(edges) - {ticket_id})
        if unknown:
            raise InvalidRequest(
                f"blocked_by names tickets not in run {run_id}: {unknown};"
                " list_tickets lists the run's tickets"
            )
        edges[ticket_id] = set(blocked_by)
        cycle = find_cycle(edges, ticket_id)
        if cycle:
            raise InvalidRequest(
                "blocked_by would make a cycle: "
                + " -> ".join(cycle)
                + " (each blocked by the next); nothing changed"
            )


async def _row(db: aiosqlite.Connection, ticket_id: str) -> aiosqlite.Row:
    """Re-read inside the write transaction, so decisions use what is committed now."""
    row = await query_one(db, "SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    if row is None:
        raise missing(ticket_id)
    return row


async def _set_blockers(db: aiosqlite.Connection, ticket_id: str, blocked_by: list[str]) -> None:
    await db.executemany(
        "INSERT INTO ticket_blockers (ticket_id, blocked_by) VALUES (?, ?)",
        [(ticket_id, b) for b in blocked_by],
    )


async def _apply_fields(
    db: aiosqlite.Connection, row: aiosqlite.Row, actor: str, changes: dict[str, Any], ts: float
) -> bool:
    """Write each given field that differs, with its history entry; True if any did."""
    stored = {
        "title": row["title"],
        "description": row["description"],
        "type": row["type"],
        "priority": PRIORITY_NAME.get(row["priority"], "medium"),
        "assignee": row["assignee"],
        "tags": json.loads(row["tags"]),
    }
    changed = False
    for field in EDITABLE:
        value: Any = changes.get(field)
        if value is None:
            continue
        if field == "tags":
            value = sorted(set(value))
        if field == "title":
            value = value.strip()
        if field == "assignee":
            value = value or None
        if value == stored[field]:
            continue
        await db.execute(
            f"UPDATE tickets SET {field} = ? WHERE id = ?", (_column(field, value), row["id"])
        )
        await add_history(db, row["id"], actor, field, _text(stored[field]), _text(value), ts)
        changed = True
    return changed


def _column(field: str, value: Any) -> Any:
    """How a field is stored: priority as its number, tags as JSON."""
    if field == "priority":
        return PRIORITY_VALUE[value]
    return json.dumps(value) if field == "tags" else value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


async def _refresh_words(db: aiosqlite.Connection, ticket_id: str) -> None:
    """The keyword index holds title, description, tags and comments."""
    row = await _row(db, ticket_id)
    comments = await query_all(
        db, "SELECT text FROM ticket_comments WHERE ticket_id = ? ORDER BY id", (ticket_id,)
    )
    body = "\n".join(
        [row["description"], " ".join(json.loads(row["tags"]))] + [c["text"] for c in comments]
    )
    await TicketSearch.index_words(db, ticket_id, row["run_id"], row["title"], body)
