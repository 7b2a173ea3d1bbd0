"""Tasks: any agent may add work to any phase of its own run, and finish its own task.

Who the caller is, and so which run and task it may touch, comes from its
principal; an argument can narrow what a user looks at but never widens what
an agent may change.
"""

from __future__ import annotations

import json

import aiosqlite

from heph_mcp.errors import Conflict, Forbidden, InvalidRequest, NotFound
from heph_mcp.records import PRIORITY_VALUE, Principal, Task
from heph_mcp.services.common import RunWorkflows, TaskReader, new_id, now, record_event
from heph_mcp.store import Store

FINISHABLE = ("claimed", "running", "needs_work")


class TaskService:
    def __init__(self, store: Store, run_workflows: RunWorkflows, reader: TaskReader):
        self._store = store
        self._workflows = run_workflows
        self.reader = reader

    async def create(
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
    ) -> Task:
        if not title.strip() or not description.strip():
            raise InvalidRequest("title and description must not be blank")
        run_id = self._target_run(principal, run)
        await self._require_active(run_id)
        phase_id = await self._phase_id(run_id, phase)
        deps = sorted(set(depends_on or []))
        task_id, ts = new_id("t"), now()
        async with self._store.transaction() as db:
            blocked = await self._unfinished_dependencies(db, run_id, deps)
            await db.execute(
                "INSERT INTO tasks (id, run_id, phase, title, description, done_definition,"
                " priority, status, created_by, parent_task_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task_id,
                    run_id,
                    phase_id,
                    title.strip(),
                    description,
                    done_definition,
                    PRIORITY_VALUE[priority],
                    "blocked" if blocked else "queued",
                    principal.id,
                    principal.task_id,
                    ts,
                    ts,
                ),
            )
            await db.executemany(
                "INSERT INTO task_dependencies (task_id, depends_on) VALUES (?, ?)",
                [(task_id, d) for d in deps],
            )
            await record_event(
                db,
                principal.id,
                "task_created",
                run_id=run_id,
                task_id=task_id,
                phase=phase_id,
                blocked_by=blocked,
            )
        return await self.reader.one(task_id)

    async def get(self, principal: Principal, task_id: str) -> Task:
        task = await self.reader.one(task_id)
        if principal.role == "agent" and task.run_id != principal.run_id:
            # Same answer as a missing task: other runs are invisible to agents.
            raise NotFound(f"no task {task_id!r}; get_tasks lists the tasks you can see")
        return task

    async def list(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        phase: int | str | None = None,
        run: str | None = None,
    ) -> list[Task]:
        clauses, params = [], []
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
        return await self.reader.many(" AND ".join(clauses) or "1", tuple(params))

    async def finish_own(
        self, principal: Principal, status: str, summary: str, learnings: list[str]
    ) -> Task:
        if principal.role != "agent" or principal.task_id is None:
            raise Forbidden("only an agent can report on its own task")
        task_id = principal.task_id
        async with self._store.transaction() as db:
            row = await (
                await db.execute("SELECT status, run_id FROM tasks WHERE id = ?", (task_id,))
            ).fetchone()
            if row is None:
                raise NotFound(f"your task {task_id} no longer exists")
            if row["status"] not in FINISHABLE:
                raise Conflict(f"your task {task_id} is already {row['status']}; nothing changed")
            ts = now()
            await db.execute(
                "UPDATE tasks SET status = ?, summary = ?, learnings = ?, updated_at = ?,"
                " finished_at = ?, lease_expires_at = NULL WHERE id = ?",
                (status, summary, json.dumps(learnings), ts, ts, task_id),
            )
            await record_event(
                db, principal.id, f"task_{status}", run_id=row["run_id"], task_id=task_id
            )
            if status == "done":
                await release_dependents(db, task_id, principal.id)
        return await self.reader.one(task_id)

    def _target_run(self, principal: Principal, run: str | None) -> str:
        if principal.role == "agent":
            if run not in (None, principal.run_id):
                raise Forbidden(
                    f"agents create tasks only in their own run ({principal.run_id}); omit `run`"
                )
            return principal.run_id  # type: ignore[return-value]
        if run is None:
            raise InvalidRequest("`run` is required: name the run to add the task to")
        return run

    async def _require_active(self, run_id: str) -> None:
        row = await self._store.fetchone("SELECT status FROM runs WHERE id = ?", (run_id,))
        if row is None:
            raise NotFound(f"no run {run_id!r}; workflow_status lists the runs")
        if row["status"] != "active":
            raise Conflict(f"run {run_id} is {row['status']}; no new tasks can be added")

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
        rows = await (
            await db.execute(
                f"SELECT id, status FROM tasks WHERE run_id = ? AND id IN ({marks})",
                (run_id, *deps),
            )
        ).fetchall()
        missing = set(deps) - {r["id"] for r in rows}
        if missing:
            raise InvalidRequest(
                f"depends_on names tasks not in this run: {sorted(missing)}; "
                "get_tasks lists the run's tasks"
            )
        return [r["id"] for r in rows if r["status"] != "done"]


async def release_dependents(db: aiosqlite.Connection, task_id: str, actor: str) -> None:
    """Queue blocked tasks whose every dependency is now done."""
    rows = await (
        await db.execute(
            "SELECT t.id, t.run_id FROM tasks t JOIN task_dependencies d ON d.task_id = t.id"
            " WHERE d.depends_on = ? AND t.status = 'blocked' AND NOT EXISTS ("
            "  SELECT 1 FROM task_dependencies d2 JOIN tasks b ON b.id = d2.depends_on"
            "  WHERE d2.task_id = t.id AND b.status != 'done')",
            (task_id,),
        )
    ).fetchall()
    for row in rows:
        await db.execute(
            "UPDATE tasks SET status = 'queued', updated_at = ? WHERE id = ?", (now(), row["id"])
        )
        await record_event(db, actor, "task_unblocked", run_id=row["run_id"], task_id=row["id"])
