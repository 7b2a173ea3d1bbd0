"""Pieces every service shares: ids, the event log, and reading tasks back."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import aiosqlite

from heph_mcp.errors import Conflict, Forbidden, InvalidRequest, NotFound
from heph_mcp.records import (
    OPEN_STATUSES,
    SUMMARY_COLUMNS,
    Principal,
    RelatedTask,
    Task,
    TaskSummary,
)
from heph_mcp.store import Store, query_one
from phases import Workflow


def new_id(prefix: str, nbytes: int = 4) -> str:
    return prefix + secrets.token_hex(nbytes)


def now() -> float:
    return time.time()


def task_branch(run_id: str, task_id: str) -> str:
    """`heph/<run>-<task>`: git cannot hold `heph/<run>/<task>` beside the run's `heph/<run>`
    (a ref name cannot be both a branch and a folder of branches)."""
    return f"heph/{run_id}-{task_id}"


def target_run(principal: Principal, run: str | None, what: str) -> str:
    """The run a call acts on: an agent's own (an argument may only repeat it), or the
    one a user names. `what` completes "agents ... only in their own run"."""
    if principal.role == "agent":
        if run not in (None, principal.run_id):
            raise Forbidden(f"agents {what} only in their own run ({principal.run_id}); omit `run`")
        return str(principal.run_id)
    if run is None:
        raise InvalidRequest(f"`run` is required: name the run to {what} in")
    return run


async def require_active_run(db: aiosqlite.Connection, run_id: str, adding: str) -> None:
    """Checked inside the write transaction, so a concurrent cancel cannot slip between."""
    row = await query_one(db, "SELECT status FROM runs WHERE id = ?", (run_id,))
    if row is None:
        raise NotFound(f"no run {run_id!r}; workflow_status lists the runs")
    if row["status"] != "active":
        raise Conflict(f"run {run_id} is {row['status']}; no new {adding} can be added")


async def record_event(
    db: aiosqlite.Connection,
    actor: str,
    kind: str,
    *,
    run_id: str | None = None,
    task_id: str | None = None,
    **detail: Any,
) -> None:
    await db.execute(
        "INSERT INTO events (run_id, task_id, actor, kind, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
        (run_id, task_id, actor, kind, json.dumps(detail), now()),
    )


async def close_run(db: aiosqlite.Connection, run_id: str, status: str, actor: str) -> int:
    """End a run (cancelled, or completed by its result) and cancel every open task of it.

    Launchers end the sessions of cancelled tasks when they next look; the
    caller notifies them. Returns how many tasks were cancelled.
    """
    ts = now()
    marks = ",".join("?" * len(OPEN_STATUSES))
    await db.execute(
        "UPDATE runs SET status = ?, updated_at = ? WHERE id = ?", (status, ts, run_id)
    )
    cursor = await db.execute(
        f"UPDATE tasks SET status = 'cancelled', updated_at = ?, finished_at = ?"
        f" WHERE run_id = ? AND status IN ({marks})",
        (ts, ts, run_id, *OPEN_STATUSES),
    )
    await record_event(db, actor, f"run_{status}", run_id=run_id, cancelled_tasks=cursor.rowcount)
    return int(cursor.rowcount)


class RunWorkflows:
    """Each run keeps a snapshot of its workflow; snapshots never change, so cache them."""

    def __init__(self, store: Store):
        self._store = store
        self._cache: dict[str, Workflow] = {}

    async def get(self, run_id: str) -> Workflow:
        if run_id not in self._cache:
            row = await self._store.fetchone("SELECT workflow FROM runs WHERE id = ?", (run_id,))
            if row is None:
                raise NotFound(f"no run {run_id!r}; workflow_status lists the runs")
            self._cache[run_id] = Workflow.model_validate_json(row["workflow"])
        return self._cache[run_id]

    async def phase_name(self, run_id: str, phase: int) -> str:
        workflow = await self.get(run_id)
        return next((p.name for p in workflow.phases if p.id == phase), str(phase))


class TaskReader:
    """Turns task rows into records (with phase names and dependencies)."""

    def __init__(self, store: Store, workflows: RunWorkflows):
        self._store = store
        self.workflows = workflows

    async def many(self, where: str, params: tuple[Any, ...] = ()) -> list[Task]:
        return await self._read(Task, "*", where, params)  # type: ignore[return-value]

    async def summaries(self, where: str, params: tuple[Any, ...] = ()) -> list[TaskSummary]:
        return await self._read(TaskSummary, SUMMARY_COLUMNS, where, params)

    async def _read(
        self, model: type[TaskSummary], columns: str, where: str, params: tuple[Any, ...]
    ) -> list[TaskSummary]:
        rows = await self._store.fetchall(
            f"SELECT {columns} FROM tasks WHERE {where} ORDER BY created_at, rowid", params
        )
        if not rows:
            return []
        deps = await self._dependencies([r["id"] for r in rows])
        names = self.workflows.phase_name
        return [
            model.from_row(r, await names(r["run_id"], r["phase"]), deps.get(r["id"], []))
            for r in rows
        ]

    async def one(self, task_id: str) -> Task:
        tasks = await self.many("id = ?", (task_id,))
        if not tasks:
            raise NotFound(f"no task {task_id!r}; get_tasks lists the tasks you can see")
        tasks[0].related = await self._links(task_id)
        return tasks[0]

    async def _links(self, task_id: str) -> list[RelatedTask]:
        """Links either way: tasks this one resembled, and later tasks that resembled it."""
        rows = await self._store.fetchall(
            "SELECT t.id, t.title, t.phase, t.status, l.score FROM task_links l"
            " JOIN tasks t ON t.id = CASE WHEN l.task_id = ? THEN l.related_id ELSE l.task_id END"
            " WHERE l.task_id = ? OR l.related_id = ? ORDER BY l.score DESC",
            (task_id, task_id, task_id),
        )
        return [RelatedTask(**dict(r)) for r in rows]

    async def _dependencies(self, task_ids: list[str]) -> dict[str, list[str]]:
        marks = ",".join("?" * len(task_ids))
        rows = await self._store.fetchall(
            f"SELECT task_id, depends_on FROM task_dependencies WHERE task_id IN ({marks})",
            task_ids,
        )
        deps: dict[str, list[str]] = {}
        for row in rows:
            deps.setdefault(row["task_id"], []).append(row["depends_on"])
        return deps
