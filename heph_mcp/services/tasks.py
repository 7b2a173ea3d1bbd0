"""Tasks: any agent may add work to any phase of its own run, and finish its own task.

Who the caller is, and so which run and task it may touch, comes from its
principal; an argument can narrow what a user looks at but never widens what
an agent may change.
"""

from __future__ import annotations

import json
from typing import Any, cast

import aiosqlite

from heph_mcp.errors import Conflict, Forbidden, InvalidRequest, NotFound
from heph_mcp.notify import Notifier
from heph_mcp.records import PRIORITY_VALUE, Principal, Priority, Task, TaskSummary, iso
from heph_mcp.services.blocking import (
    release_ready,
    require_tickets,
    resolve_when_work_done,
    task_ticket_blockers,
)
from heph_mcp.services.common import (
    RunWorkflows,
    TaskReader,
    new_id,
    now,
    record_event,
    require_active_run,
    target_run,
)
from heph_mcp.services.dedup import TaskDeduper
from heph_mcp.services.reviews import checks_so_far, validation_task
from heph_mcp.store import Store, query_all, query_one
from phases import Workflow

FINISHABLE = ("claimed", "running", "needs_work")


class TaskService:
    def __init__(
        self,
        store: Store,
        run_workflows: RunWorkflows,
        reader: TaskReader,
        dedup: TaskDeduper | None = None,
        notifier: Notifier | None = None,
    ):
        self._store = store
        self._workflows = run_workflows
        self.reader = reader
        self._dedup = dedup
        self._notifier = notifier or Notifier()

    async def create(
        self, principal: Principal, task: Task, *, check_duplicates: bool = True
    ) -> Task:
        """Store a `draft` in its own transaction: checked against the run's tasks for a
        duplicate first, unless `check_duplicates` is off (or no deduper is configured)."""
        if self._dedup is None or not check_duplicates:
            await self._store_new(principal, task)
        else:
            await self._store_checked(principal, task)
        if task.status == "queued":
            await self._notifier.queue_changed()
        return task

    async def draft(
        self,
        principal: Principal,
        *,
        phase: int | str,
        title: str,
        description: str,
        done_definition: str = "",
        priority: str = "medium",
        depends_on: list[str] | None = None,
        run: str | None = None,
        base_ref: str | None = None,
        parent_task_id: str | None = None,
        ticket_id: str | None = None,
        carries: str | None = None,
        requires: list[str] | None = None,
    ) -> Task:
        """A new task, checked and not stored yet: `create` stores it, or a caller's own
        transaction does with `add`."""
        if not title.strip() or not description.strip():
            raise InvalidRequest("title and description must not be blank")
        run_id = target_run(principal, run, "create tasks")
        phase_id = await self._phase_id(run_id, phase)
        if ticket_id is not None:
            require_tickets(await self._workflows.get(run_id), run_id)
        return Task(
            id=new_id("t"),
            run_id=run_id,
            phase=phase_id,
            phase_name=await self._workflows.phase_name(run_id, phase_id),
            title=title.strip(),
            description=description,
            done_definition=done_definition,
            priority=cast(Priority, priority),
            status="queued",
            created_by=principal.id,
            parent_task_id=principal.task_id or parent_task_id,
            depends_on=sorted(set(depends_on or [])),
            base_ref=base_ref,
            ticket_id=ticket_id,
            carries=carries,
            requires=sorted(set(requires or [])),
        )

    async def _store_checked(self, principal: Principal, task: Task) -> None:
        """Store the task unless a near-identical one exists; link the related ones."""
        assert self._dedup is not None
        run_id, phase_id = task.run_id, task.phase
        vector = await self._dedup.vector(task.title, task.description)
        async with self._dedup.lock:
            duplicate, related = await self._dedup.check(run_id, phase_id, vector)
            task.related = ([duplicate] if duplicate else []) + related
            if duplicate is not None:
                task.status, task.duplicate_of = "duplicate", duplicate.id
            await self._store_new(principal, task)
            if duplicate is None:
                await self._dedup.index(task.id, run_id, phase_id, vector)

    async def _store_new(self, principal: Principal, task: Task) -> None:
        async with self._store.transaction() as db:
            await self.add(db, principal, task)

    async def add(self, db: aiosqlite.Connection, principal: Principal, task: Task) -> None:
        """Store a drafted task inside the caller's transaction, if its run is still active."""
        ts = now()
        await require_active_run(db, task.run_id, "tasks")
        blockers = await self._unfinished_dependencies(db, task.run_id, task.depends_on)
        if task.ticket_id is not None:
            blockers += await task_ticket_blockers(db, task.run_id, task.ticket_id)
        if blockers and task.status == "queued":
            task.status = "blocked"
        await self.insert(db, task, ts)
        await record_event(
            db,
            principal.id,
            "task_created",
            run_id=task.run_id,
            task_id=task.id,
            phase=task.phase,
            status=task.status,
        )
        task.created_at = task.updated_at = iso(ts)

    @staticmethod
    async def insert(db: aiosqlite.Connection, task: Task, ts: float) -> None:
        """Write a new task inside the caller's transaction (links and dependencies too)."""
        await db.execute(
            "INSERT INTO tasks (id, run_id, phase, title, description, done_definition,"
            " priority, status, created_by, parent_task_id, duplicate_of, base_ref, ticket_id,"
            " created_at, updated_at, kind, validates, result_id, carries, requires)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                task.id,
                task.run_id,
                task.phase,
                task.title,
                task.description,
                task.done_definition,
                PRIORITY_VALUE[task.priority],
                task.status,
                task.created_by,
                task.parent_task_id,
                task.duplicate_of,
                task.base_ref,
                task.ticket_id,
                ts,
                ts,
                task.kind,
                task.validates,
                task.result_id,
                task.carries,
                json.dumps(task.requires) if task.requires else None,
            ),
        )
        if task.related:
            links = [
                (task.id, r.id, "duplicate" if r.id == task.duplicate_of else "related", r.score)
                for r in task.related
            ]
            await db.executemany(
                "INSERT INTO task_links (task_id, related_id, kind, score) VALUES (?, ?, ?, ?)",
                links,
            )
        if task.depends_on:
            await db.executemany(
                "INSERT INTO task_dependencies (task_id, depends_on) VALUES (?, ?)",
                [(task.id, d) for d in task.depends_on],
            )

    async def get(self, principal: Principal, task_id: str) -> Task:
        task = await self.reader.one(task_id)
        if principal.role == "agent" and task.run_id != principal.run_id:
            # Same answer as a missing task: other runs are invisible to agents.
            raise NotFound(f"no task {task_id!r}; get_tasks lists the tasks you can see")
        return task

    async def find(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        phase: int | str | None = None,
        run: str | None = None,
    ) -> list[TaskSummary]:
        clauses: list[str] = []
        params: list[Any] = []
        run_id = principal.run_id if principal.role == "agent" else run
        if principal.role == "agent" and run not in (None, principal.run_id):
            raise Forbidden(f"agents see only their own run ({principal.run_id}); omit `run`")
        if run_id is not None:
            await self._workflows.get(run_id)
            clauses.append("run_id = ?")
            params.append(run_id)
            if phase is not None:
                clauses.append("phase = ?")
                params.append(await self._phase_id(run_id, phase))
        elif phase is not None:
            raise InvalidRequest("filtering by phase needs a run: pass `run` as well")
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        return await self.reader.summaries(" AND ".join(clauses) or "1", tuple(params))

    async def finish_own(
        self, principal: Principal, status: str, summary: str, learnings: list[str]
    ) -> Task:
        """Report the caller's task; in a phase with validation, done means "validate it"."""
        if principal.role != "agent" or principal.task_id is None:
            raise Forbidden("only an agent can report on its own task")
        task_id = principal.task_id
        async with self._store.transaction() as db:
            row = await self._own_open_task(db, task_id)
            await _still_its_agent(db, principal.id, task_id)
            final = await self._final_status(row, status)
            ts = now()
            await db.execute(
                "UPDATE tasks SET status = ?, summary = ?, learnings = ?, updated_at = ?,"
                " finished_at = ?, lease_expires_at = NULL WHERE id = ?",
                (final, summary, json.dumps(learnings), ts, None if final == "validating" else ts,
                 task_id),
            )  # fmt: skip
            await record_event(
                db, principal.id, f"task_{final}", run_id=row["run_id"], task_id=task_id
            )
            if final == "validating":
                await self._open_review(db, {**dict(row), "summary": summary})
            elif final == "done":
                workflow = await self._workflows.get(row["run_id"])
                await work_done(db, task_id, principal.id, summary, workflow)
        # The launcher merges and cleans up a finished task; dependents may be queued.
        await self._notifier.queue_changed()
        return await self.reader.one(task_id)

    @staticmethod
    async def _own_open_task(db: aiosqlite.Connection, task_id: str) -> aiosqlite.Row:
        row = await query_one(db, "SELECT * FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFound(f"your task {task_id} no longer exists")
        if row["kind"] != "work":
            raise Conflict(
                "you are a validator: report with give_validation_review(passed, feedback,"
                " evidence), not update_task_status; nothing changed"
            )
        if row["status"] not in FINISHABLE:
            raise Conflict(f"your task {task_id} is already {row['status']}; nothing changed")
        return row

    async def _final_status(self, row: aiosqlite.Row, status: str) -> str:
        workflow = await self._workflows.get(row["run_id"])
        validated = workflow.phase(row["phase"]).validation.enabled
        return "validating" if status == "done" and validated else status

    async def _open_review(self, db: aiosqlite.Connection, work: dict[str, Any]) -> None:
        """Queue a validator for this attempt; its iteration counts earlier checks."""
        earlier = await checks_so_far(db, work["id"])
        workflow = await self._workflows.get(work["run_id"])
        check = validation_task(workflow, work, earlier + 1)
        await self.insert(db, check, now())
        await record_event(
            db, "hephaestus", "task_created", run_id=check.run_id, task_id=check.id,
            phase=check.phase, status="queued", validates=work["id"],
        )  # fmt: skip

    async def _phase_id(self, run_id: str, phase: int | str) -> int:
        workflow = await self._workflows.get(run_id)
        try:
            return workflow.phase(phase).id
        except KeyError as exc:
            raise InvalidRequest(exc.args[0]) from None

    @staticmethod
    async def _unfinished_dependencies(
        db: aiosqlite.Connection, run_id: str, deps: list[str]
    ) -> list[str]:
        if not deps:
            return []
        marks = ",".join("?" * len(deps))
        rows = await query_all(
            db,
            f"SELECT id, status FROM tasks WHERE run_id = ? AND id IN ({marks})",
            (run_id, *deps),
        )
        missing: set[str] = set(deps) - {r["id"] for r in rows}
        if missing:
            raise InvalidRequest(
                f"depends_on names tasks not in this run: {sorted(missing)}; "
                "get_tasks lists the run's tasks"
            )
        return [r["id"] for r in rows if r["status"] != "done"]


async def work_done(
    db: aiosqlite.Connection, task_id: str, actor: str, summary: str, workflow: Workflow
) -> None:
    """What finished work releases: tasks depending on it, and its ticket once nothing of the
    ticket is still open (whether the work was reported done or passed its validation)."""
    await release_dependents(db, task_id, actor)
    await resolve_when_work_done(db, task_id, actor, summary, workflow)


async def release_dependents(db: aiosqlite.Connection, task_id: str, actor: str) -> None:
    """Queue blocked tasks whose every dependency is now done (and ticket unblocked)."""
    await release_ready(
        db,
        "t.id IN (SELECT task_id FROM task_dependencies WHERE depends_on = ?)",
        (task_id,),
        actor,
    )


async def _still_its_agent(db: aiosqlite.Connection, agent_id: str, task_id: str) -> None:
    """Only the task's current agent reports it: a retried task's old agent must not
    finish its successor's work."""
    row = await query_one(
        db, "SELECT status FROM agents WHERE id = ? AND task_id = ?", (agent_id, task_id)
    )
    if row is None or row["status"] != "running":
        raise Forbidden(
            f"you are no longer the agent of task {task_id}: your session ended and the task"
            " went on without you; nothing changed"
        )
