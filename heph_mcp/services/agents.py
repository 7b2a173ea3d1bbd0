"""Ops side of the task lifecycle: claim, start an agent, hear that it exited.

Claiming is one IMMEDIATE transaction: the capacity checks and the status
change see the same snapshot, so two launchers can never start the same task
and no cap (server, worker, run) can be exceeded. Leases let the work of a
launcher that died be claimed again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import aiosqlite
from pydantic import BaseModel

from heph_mcp.errors import Conflict, NotFound
from heph_mcp.identity import Identity
from heph_mcp.merge_records import Lineage
from heph_mcp.notify import Notifier
from heph_mcp.records import ACTIVE_STATUSES, Agent, Principal, Task, iso
from heph_mcp.services.approvals import cancel_pending
from heph_mcp.services.common import TaskReader, new_id, now, record_event
from heph_mcp.services.validation import abandon_review
from heph_mcp.settings import Settings
from heph_mcp.store import Store, query_all, query_one
from phases import AgentSpec

# An SQL tuple literal built from constants, never from input.
ACTIVE = "(" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"
# Queued tasks of active runs still under their own caps, best first (priority, then age);
# the first whose labels the worker has is claimed (see _fitting for labelled workers).
NEXT_QUEUED = (
    "SELECT t.id, t.run_id, t.phase, t.priority, t.requires"
    " FROM tasks t JOIN runs r ON r.id = t.run_id"
    " WHERE t.status IN ('queued', 'needs_work') AND r.status = 'active'"
    " AND r.paused_at IS NULL AND r.over_budget_at IS NULL"  # paused or spent: nothing new
    " AND (SELECT COUNT(*) FROM tasks a"
    f"      WHERE a.run_id = t.run_id AND a.status IN {ACTIVE}) < r.max_agents"
    " ORDER BY t.priority DESC, t.created_at, t.rowid LIMIT 500"
)


class Claim(BaseModel):
    task: Task | None
    reason: str = ""
    agent: AgentSpec | None = None
    workflow: str | None = None


class AgentSession(BaseModel):
    agent_id: str
    token: str
    task: Task


class AgentView(BaseModel):
    agent_id: str
    task_id: str
    task_title: str
    phase: int
    task_status: str
    session_name: str
    started_at: str | None


class ExitOutcome(BaseModel):
    agent_id: str
    task_id: str
    task_status: str
    retried: bool


class Released(BaseModel):
    released: list[str]
    statuses: dict[str, str]


class AgentService:
    def __init__(
        self,
        store: Store,
        identity: Identity,
        reader: TaskReader,
        settings: Settings,
        notifier: Notifier | None = None,
    ):
        self._store = store
        self._identity = identity
        self._reader = reader
        self._settings = settings
        self._notifier = notifier or Notifier()

    async def claim(
        self,
        principal: Principal,
        worker: str,
        slots: int,
        lease: float,
        labels: Sequence[str] = (),
    ) -> Claim:
        """Claim the best queued task this worker may run: its labels must include the ones
        the task and its phase require (placement)."""
        async with self._store.transaction() as db:
            expired = await self._expire_leases(db, principal.id)
            full = await self._capacity_reason(db, worker, slots)
            row, unfit = (None, 0) if full else await self._fitting(db, set(labels))
            if row is not None:
                await db.execute(
                    "UPDATE tasks SET status = 'claimed', claimed_by = ?, lease_expires_at = ?,"
                    " attempts = attempts + 1, updated_at = ? WHERE id = ?",
                    (worker, now() + lease, now(), row["id"]),
                )
                await record_event(
                    db,
                    principal.id,
                    "task_claimed",
                    run_id=row["run_id"],
                    task_id=row["id"],
                    worker=worker,
                )
        if expired:
            await self._notifier.queue_changed()
        if row is None:
            return Claim(task=None, reason=full or _nothing_reason(worker, labels, unfit))
        task = await self._reader.one(row["id"])
        workflow = await self._reader.workflows.get(task.run_id)
        return Claim(task=task, agent=workflow.phase(task.phase).agent, workflow=workflow.name)

    async def _fitting(
        self, db: aiosqlite.Connection, labels: set[str]
    ) -> tuple[aiosqlite.Row | None, int]:
        """The best candidate whose required labels the worker has, and how many it passed.

        Among the best priority's candidates, a task that needs labels goes first: only a
        worker with them can run it, while plain work can go to any worker."""
        unfit, first = 0, None
        for row in await query_all(db, NEXT_QUEUED):
            if first is not None and row["priority"] < first["priority"]:
                break
            phase = (await self._reader.workflows.get(row["run_id"])).phase(row["phase"])
            needed = set(json.loads(row["requires"] or "[]")) | set(phase.requires)
            if not needed <= labels:
                unfit += 1
            elif needed:
                return row, unfit
            elif first is None:
                first = row
        return first, unfit

    async def register(
        self,
        principal: Principal,
        task_id: str,
        worker: str,
        session_name: str,
        cli: str,
        worktree: str | None,
        lease: float,
    ) -> AgentSession:
        agent_id = new_id("a")
        async with self._store.transaction() as db:
            row = await query_one(
                db, "SELECT run_id, status, claimed_by FROM tasks WHERE id = ?", (task_id,)
            )
            if row is None:
                raise NotFound(f"no task {task_id!r}")
            if row["status"] != "claimed" or row["claimed_by"] != worker:
                raise Conflict(
                    f"task {task_id} is {row['status']} (claimed by "
                    f"{row['claimed_by']}); only its claimer can start an agent"
                )
            token = await self._identity.mint_agent(db, agent_id, row["run_id"], task_id)
            await db.execute(
                "INSERT INTO agents (id, task_id, run_id, session_name, worktree, cli, worker,"
                " status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (agent_id, task_id, row["run_id"], session_name, worktree, cli, worker, now()),
            )
            await db.execute(
                "UPDATE tasks SET status = 'running', lease_expires_at = ?, updated_at = ?"
                " WHERE id = ?",
                (now() + lease, now(), task_id),
            )
            await record_event(
                db,
                principal.id,
                "agent_started",
                run_id=row["run_id"],
                task_id=task_id,
                agent=agent_id,
                session=session_name,
            )
        return AgentSession(agent_id=agent_id, token=token, task=await self._reader.one(task_id))

    async def report_exit(self, principal: Principal, agent_id: str, reason: str) -> ExitOutcome:
        async with self._store.transaction() as db:
            row = await query_one(
                db,
                "SELECT a.task_id, a.run_id, a.status AS agent_status, t.status, t.attempts"
                " FROM agents a JOIN tasks t ON t.id = a.task_id WHERE a.id = ?",
                (agent_id,),
            )
            if row is None:
                raise NotFound(f"no agent {agent_id!r}; list_agents shows the running ones")
            if row["agent_status"] == "exited":
                raise Conflict(f"agent {agent_id} has already exited")
            await self._end_agent(db, agent_id, reason)
            status = await self._settle_task_of(db, agent_id, dict(row), reason, principal.id)
        if status == "queued":
            await self._notifier.queue_changed()
        # Only an open task can be settled, so "queued" afterwards means it was retried.
        return ExitOutcome(
            agent_id=agent_id,
            task_id=row["task_id"],
            task_status=status,
            retried=status == "queued",
        )

    async def record_lineage(self, principal: Principal, task_id: str, lineage: Lineage) -> Task:
        """What the launcher put in the task's worktree, so get_task can show it."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE tasks SET lineage = ?, updated_at = ? WHERE id = ?",
                (lineage.model_dump_json(), now(), task_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"no task {task_id!r}")
            await record_event(db, principal.id, "lineage_recorded", task_id=task_id,
                               start=lineage.start)  # fmt: skip
        return await self._reader.one(task_id)

    async def heartbeat(self, worker: str, lease: float) -> int:
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE tasks SET lease_expires_at = ?"
                f" WHERE claimed_by = ? AND status IN {ACTIVE}",
                (now() + lease, worker),
            )
        return cursor.rowcount

    async def release(
        self, principal: Principal, worker: str, reason: str, task_id: str | None
    ) -> Released:
        """Give back claims that never got an agent (a failed launch, or a launcher restart).

        Each released task is retried or failed exactly as if its agent had exited.
        """
        where, params = ("AND id = ?", (worker, task_id)) if task_id else ("", (worker,))
        statuses: dict[str, str] = {}
        async with self._store.transaction() as db:
            rows = await query_all(
                db,
                "SELECT id AS task_id, run_id, status, attempts FROM tasks"
                f" WHERE status = 'claimed' AND claimed_by = ? {where}",
                params,
            )
            for row in rows:
                statuses[row["task_id"]] = await self._settle_task(
                    db, dict(row), reason, principal.id
                )
        if task_id is not None and task_id not in statuses:
            raise Conflict(f"task {task_id} is not claimed by {worker} without an agent")
        if statuses:
            await self._notifier.queue_changed()
        return Released(released=sorted(statuses), statuses=statuses)

    async def queue_counts(self) -> dict[str, int]:
        rows = await self._store.fetchall(
            "SELECT t.status, COUNT(*) FROM tasks t JOIN runs r ON r.id = t.run_id"
            " WHERE r.status = 'active' GROUP BY t.status"
        )
        return {r[0]: r[1] for r in rows}

    async def running(self, run_id: str | None = None, worker: str | None = None) -> list[Agent]:
        clauses, params = ["a.status = 'running'"], []
        for column, value in (("a.run_id", run_id), ("a.worker", worker)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        rows = await self._store.fetchall(
            "SELECT a.*, t.status AS task_status FROM agents a JOIN tasks t ON t.id = a.task_id"
            f" WHERE {' AND '.join(clauses)} ORDER BY a.started_at",
            params,
        )
        seen = self._identity.last_seen
        agents = [Agent.from_row(r) for r in rows]
        return [a.model_copy(update={"last_seen_at": seen.get(a.id)}) for a in agents]

    async def overview(self, run_id: str | None = None) -> list[AgentView]:
        """Who is working on what, for agents deciding what not to duplicate."""
        where, params = ("AND a.run_id = ?", (run_id,)) if run_id else ("", ())
        rows = await self._store.fetchall(
            "SELECT a.id, a.task_id, t.title, t.phase, t.status, a.session_name, a.started_at"
            f" FROM agents a JOIN tasks t ON t.id = a.task_id WHERE a.status = 'running' {where}"
            " ORDER BY a.started_at",
            params,
        )
        return [
            AgentView(
                agent_id=r[0],
                task_id=r[1],
                task_title=r[2],
                phase=r[3],
                task_status=r[4],
                session_name=r[5],
                started_at=iso(r[6]),
            )
            for r in rows
        ]

    async def _capacity_reason(self, db: aiosqlite.Connection, worker: str, slots: int) -> str:
        counts = await query_one(
            db,
            f"SELECT COUNT(*), SUM(claimed_by = ?) FROM tasks WHERE status IN {ACTIVE}",
            (worker,),
        )
        total, mine = counts  # type: ignore[misc]
        if total >= self._settings.max_concurrent_agents:
            return f"server cap reached ({total}/{self._settings.max_concurrent_agents} active)"
        if (mine or 0) >= slots:
            return f"worker {worker} is full ({mine}/{slots} slots)"
        return ""

    async def _expire_leases(self, db: aiosqlite.Connection, actor: str) -> int:
        """Claims and running agents whose launcher stopped renewing go back to the queue. Work
        under validation does not: its agent has ended, and its validator has a lease of its
        own (a validator failing for good fails the work, see abandon_review)."""
        rows = await query_all(
            db,
            "SELECT id, run_id, attempts FROM tasks WHERE status IN ('claimed', 'running')"
            " AND lease_expires_at < ?",
            (now(),),
        )
        for row in rows:
            agents = await query_all(
                db, "SELECT id FROM agents WHERE task_id = ? AND status = 'running'", (row["id"],)
            )
            for agent in agents:
                await self._end_agent(db, agent["id"], "lease expired")
            await self._settle_task(
                db,
                {**dict(row), "task_id": row["id"], "status": "running"},
                "lease expired: its launcher stopped renewing",
                actor,
            )
        return len(rows)

    async def end(self, db: aiosqlite.Connection, agent_id: str, reason: str) -> None:
        """End an agent inside the caller's transaction (an operator's stop)."""
        await self._end_agent(db, agent_id, reason)

    async def _end_agent(self, db: aiosqlite.Connection, agent_id: str, reason: str) -> None:
        await db.execute(
            "UPDATE agents SET status = 'exited', exit_reason = ?, ended_at = ? WHERE id = ?",
            (reason, now(), agent_id),
        )
        await self._identity.revoke(db, agent_id)
        await cancel_pending(db, agent_id, reason)

    async def _settle_task_of(
        self,
        db: aiosqlite.Connection,
        agent_id: str,
        row: Mapping[str, Any],
        reason: str,
        actor: str,
    ) -> str:
        """Settle the task an agent leaves, unless a newer agent already works on it (the
        task came back to the queue meanwhile): the old agent's exit is no verdict on it."""
        newer = await query_one(
            db,
            "SELECT id FROM agents WHERE task_id = ? AND status = 'running' AND id != ?",
            (row["task_id"], agent_id),
        )
        if newer is not None:
            return str(row["status"])
        return await self._settle_task(db, row, reason, actor)

    async def _settle_task(
        self, db: aiosqlite.Connection, row: Mapping[str, Any], reason: str, actor: str
    ) -> str:
        """An agent left without reporting: retry its task, or fail it when out of attempts.

        Returns the task's status afterwards.
        """
        if row["status"] not in ("claimed", "running", "needs_work"):
            return str(row["status"])
        retry = row["attempts"] < self._settings.max_attempts
        await db.execute(
            "UPDATE tasks SET status = ?, failure_reason = ?, claimed_by = NULL,"
            " lease_expires_at = NULL, updated_at = ?, finished_at = ? WHERE id = ?",
            (
                "queued" if retry else "failed",
                reason,
                now(),
                None if retry else now(),
                row["task_id"],
            ),
        )
        await record_event(
            db,
            actor,
            "task_retried" if retry else "task_failed",
            run_id=row["run_id"],
            task_id=row["task_id"],
            reason=reason,
        )
        if not retry:
            await abandon_review(db, row["task_id"], reason)
        return "queued" if retry else "failed"


def _nothing_reason(worker: str, labels: Sequence[str], unfit: int) -> str:
    if not unfit:
        return "no queued task within its run's cap"
    have = ", ".join(sorted(labels)) or "none"
    return f"{unfit} queued task(s) need labels worker {worker} lacks (its labels: {have})"
