"""A run's result: submitted once its answer is found, checked by a validator agent.

Workflows with `has_result` end in an answer rather than in merged work
alone (a bug's root cause, a report). A validated result completes the run;
with `on_result_found: stop_all` every other session of the run is ended and
its queued and blocked work cancelled, because the answer is already known.
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from heph_mcp.errors import Conflict, InvalidRequest, NotFound
from heph_mcp.notify import Notifier
from heph_mcp.records import Principal, Result
from heph_mcp.services.branch_work import hold_for_merges, missing_work
from heph_mcp.services.common import (
    RunWorkflows,
    close_run,
    new_id,
    now,
    record_event,
    require_active_run,
    target_run,
    task_branch,
)
from heph_mcp.services.guidance import queue_guidance
from heph_mcp.services.reviews import result_validation_task
from heph_mcp.services.tasks import TaskService
from heph_mcp.store import Store, query_one


class ResultService:
    def __init__(self, store: Store, run_workflows: RunWorkflows, notifier: Notifier | None = None):
        self._store = store
        self._workflows = run_workflows
        self._notifier = notifier or Notifier()

    async def submit(
        self, principal: Principal, markdown: str, evidence: list[str], run: str | None
    ) -> Result:
        """Store the result and queue its validator; one result is checked at a time."""
        run_id = target_run(principal, run, "submit results")
        workflow = await self._workflows.get(run_id)
        if not workflow.config.has_result:
            raise InvalidRequest(
                f"workflow {workflow.name!r} produces no result (has_result is false);"
                " report your own work with update_task_status"
            )
        if not markdown.strip():
            raise InvalidRequest("the result must not be blank")
        result_id = new_id("res")
        async with self._store.transaction() as db:
            await self._require_open(db, run_id)
            ts = now()
            await db.execute(
                "INSERT INTO results (id, run_id, task_id, submitted_by, markdown, evidence,"
                " status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                (result_id, run_id, principal.task_id, principal.id, markdown,
                 json.dumps(evidence), ts),
            )  # fmt: skip
            phase = await self._phase_of(db, principal, workflow.phases[-1].id)
            source = await _work_branch(db, run_id, principal.task_id)
            check = result_validation_task(
                workflow, run_id, phase, result_id, markdown, evidence, source
            )
            await TaskService.insert(db, check, ts)
            await record_event(
                db, principal.id, "result_submitted", run_id=run_id, task_id=principal.task_id,
                result=result_id, validator_task=check.id,
            )  # fmt: skip
        await self._notifier.queue_changed()
        return await self.get(result_id)

    async def read(self, principal: Principal, result_id: str) -> Result:
        result = await self.get(result_id)
        if principal.role == "agent" and result.run_id != principal.run_id:
            raise NotFound(f"no result {result_id!r} in your run")
        return result

    async def get(self, result_id: str) -> Result:
        row = await self._store.fetchone("SELECT * FROM results WHERE id = ?", (result_id,))
        if row is None:
            raise NotFound(f"no result {result_id!r}")
        return Result.from_row(row)

    async def decide(
        self, db: aiosqlite.Connection, validator: aiosqlite.Row, passed: bool, feedback: str
    ) -> str:
        """Apply a result validator's verdict; returns what happens next, in words."""
        row = await query_one(db, "SELECT * FROM results WHERE id = ?", (validator["result_id"],))
        if row is None or row["status"] != "pending":
            raise Conflict(f"result {validator['result_id']} is not waiting for a review")
        await db.execute(
            "UPDATE results SET status = ?, feedback = ?, decided_at = ? WHERE id = ?",
            ("validated" if passed else "rejected", feedback, now(), row["id"]),
        )
        actor = validator["id"]
        if not passed:
            return await self._rejected(db, row, feedback)
        workflow = await self._workflows.get(row["run_id"])
        await record_event(db, actor, "result_validated", run_id=row["run_id"], result=row["id"])
        if workflow.config.on_result_found == "stop_all":
            return await self._stop_all(db, row["run_id"], actor)
        return "result validated; the run keeps going (on_result_found: keep_going)"

    @staticmethod
    async def _stop_all(db: aiosqlite.Connection, run_id: str, actor: str) -> str:
        """Complete the run, unless done work is still missing from its branch: then it waits
        for those merges and completes when the last one lands."""
        owed = await missing_work(db, run_id)
        if owed:
            cancelled = await hold_for_merges(db, run_id, owed, actor)
            names = ", ".join(w.task_id for w in owed)
            return (
                f"result validated; the run completes once the work of {names} is on"
                f" heph/{run_id} ({cancelled} open tasks not needed for that cancelled)"
            )
        cancelled = await close_run(db, run_id, "completed", actor)
        return f"result validated: run completed, {cancelled} open tasks cancelled (stop_all)"

    async def _rejected(self, db: aiosqlite.Connection, row: aiosqlite.Row, feedback: str) -> str:
        """Tell the submitter, if its agent still runs; anyone may submit a better result."""
        agent = await query_one(
            db,
            "SELECT id, run_id, task_id FROM agents WHERE task_id = ? AND status = 'running'",
            (row["task_id"],),
        )
        text = f"Your result {row['id']} was rejected by its validator: {feedback}"
        if agent is not None:
            await queue_guidance(db, agent, "result validator", "warning", text)
        await record_event(db, "hephaestus", "result_rejected", run_id=row["run_id"],
                           result=row["id"], feedback=feedback)  # fmt: skip
        told = "its submitter was told" if agent is not None else "its submitter has ended"
        return f"result rejected ({told}); a fixed result may be submitted again"

    @staticmethod
    async def _require_open(db: aiosqlite.Connection, run_id: str) -> None:
        await require_active_run(db, run_id, "results")
        pending = await query_one(
            db, "SELECT id FROM results WHERE run_id = ? AND status = 'pending'", (run_id,)
        )
        if pending is not None:
            raise Conflict(f"result {pending['id']} is still being validated; wait for its review")

    @staticmethod
    async def _phase_of(db: aiosqlite.Connection, principal: Principal, last: int) -> int:
        """The validator runs in the submitter's phase (the last phase for a user)."""
        if principal.task_id is None:
            return last
        row: Any = await query_one(db, "SELECT phase FROM tasks WHERE id = ?", (principal.task_id,))
        return int(row["phase"]) if row else last


async def run_results(store: Store, run_id: str) -> list[Result]:
    rows = await store.fetchall(
        "SELECT * FROM results WHERE run_id = ? ORDER BY created_at", (run_id,)
    )
    return [Result.from_row(r) for r in rows]


async def _work_branch(db: aiosqlite.Connection, run_id: str, task_id: str | None) -> str | None:
    """The submitting work task's branch (a user's or a validator's result has none)."""
    if task_id is None:
        return None
    row = await query_one(db, "SELECT kind FROM tasks WHERE id = ?", (task_id,))
    return task_branch(run_id, task_id) if row is not None and row["kind"] == "work" else None
