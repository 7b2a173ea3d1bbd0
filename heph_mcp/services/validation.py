"""A validator's verdict: pass sends the work on to be merged, fail sends it back.

Only the agent launched for a validation task may give its verdict, once.
A failed check puts the task in `needs_work` with the feedback; the next
agent to take it (a fresh attempt on the same branch, so earlier commits
are kept) reads that feedback in its brief. After `max_validation_iterations`
failed checks the task fails instead of looping forever.
"""

from __future__ import annotations

import aiosqlite

from heph_mcp.errors import Conflict, Forbidden
from heph_mcp.notify import Notifier
from heph_mcp.records import Principal, Review
from heph_mcp.services.common import TaskReader, now, record_event
from heph_mcp.services.results import ResultService
from heph_mcp.services.reviews import checks_so_far
from heph_mcp.services.tasks import work_done
from heph_mcp.store import Store, query_one


class ValidationService:
    def __init__(
        self,
        store: Store,
        reader: TaskReader,
        results: ResultService,
        max_iterations: int,
        notifier: Notifier | None = None,
    ):
        self._store = store
        self._reader = reader
        self._results = results
        self._max_iterations = max_iterations
        self._notifier = notifier or Notifier()

    async def review(
        self, principal: Principal, passed: bool, feedback: str, evidence: list[str]
    ) -> Review:
        async with self._store.transaction() as db:
            validator = await self._validator_task(db, principal)
            summary = ("passed: " if passed else "failed: ") + feedback
            if evidence:
                summary += "\n\nEvidence:\n" + "\n".join(f"- {e}" for e in evidence)
            await _close(db, validator["id"], "done", summary)
            # Recorded before its consequences (a run completed, a task sent back), so the
            # history reads in the order things happened.
            await record_event(
                db, principal.id, "review_given", run_id=validator["run_id"],
                task_id=validator["id"], passed=passed, evidence=evidence,
            )  # fmt: skip
            if validator["kind"] == "validation":
                outcome = await self._judge_task(db, validator, passed, feedback)
            else:
                outcome = await self._results.decide(db, validator, passed, feedback)
        await self._notifier.queue_changed()
        if validator["kind"] == "validation":
            task = await self._reader.one(validator["validates"])
            return Review(passed=passed, task=task, outcome=outcome)
        result = await self._results.get(validator["result_id"])
        return Review(passed=passed, result=result, outcome=outcome)

    @staticmethod
    async def _validator_task(db: aiosqlite.Connection, principal: Principal) -> aiosqlite.Row:
        row = await query_one(db, "SELECT * FROM tasks WHERE id = ?", (principal.task_id,))
        if principal.role != "agent" or row is None or row["kind"] == "work":
            raise Forbidden(
                "give_validation_review is for validator agents only; your task is not a"
                " validation. Report your own work with update_task_status"
            )
        if row["status"] not in ("claimed", "running"):
            raise Conflict(f"your review was already given (task {row['id']} is {row['status']})")
        return row

    async def _judge_task(
        self, db: aiosqlite.Connection, validator: aiosqlite.Row, passed: bool, feedback: str
    ) -> str:
        work_id = validator["validates"]
        work = await query_one(db, "SELECT * FROM tasks WHERE id = ?", (work_id,))
        if work is None or work["status"] != "validating":
            state = work["status"] if work else "gone"
            raise Conflict(f"task {work_id} is not waiting for validation (it is {state})")
        if passed:
            await _close(db, work_id, "done", work["summary"], feedback=feedback)
            workflow = await self._reader.workflows.get(work["run_id"])
            await work_done(db, work_id, validator["id"], work["summary"] or "", workflow)
            await _event(db, validator, "validation_passed", feedback)
            return f"task {work_id} passed validation; it will be merged"
        checks = await checks_so_far(db, work_id)
        if checks >= self._max_iterations:
            reason = f"failed validation {checks} times; last feedback: {feedback}"
            await _close(db, work_id, "failed", work["summary"], feedback=feedback, reason=reason)
            await _event(db, validator, "validation_failed", feedback, final=True)
            return f"task {work_id} failed: {reason}"
        await db.execute(
            "UPDATE tasks SET status = 'needs_work', feedback = ?, feedback_from = 'validator',"
            " claimed_by = NULL, updated_at = ? WHERE id = ?",
            (feedback, now(), work_id),
        )
        await _event(db, validator, "validation_failed", feedback, final=False)
        return f"task {work_id} sent back with your feedback; a new attempt will address it"


async def _close(
    db: aiosqlite.Connection,
    task_id: str,
    status: str,
    summary: str | None,
    *,
    feedback: str | None = None,
    reason: str | None = None,
) -> None:
    ts = now()
    await db.execute(
        "UPDATE tasks SET status = ?, summary = ?, feedback = COALESCE(?, feedback),"
        " feedback_from = CASE WHEN ? IS NULL THEN feedback_from ELSE 'validator' END,"
        " failure_reason = COALESCE(?, failure_reason), lease_expires_at = NULL,"
        " updated_at = ?, finished_at = ? WHERE id = ?",
        (status, summary, feedback, feedback, reason, ts, ts, task_id),
    )


async def _event(
    db: aiosqlite.Connection, validator: aiosqlite.Row, kind: str, feedback: str, **extra: object
) -> None:
    await record_event(
        db, validator["id"], kind, run_id=validator["run_id"], task_id=validator["validates"],
        feedback=feedback, **extra,
    )  # fmt: skip


async def abandon_review(db: aiosqlite.Connection, validator_id: str, reason: str) -> None:
    """A validator that failed for good never gave its verdict: the checked work fails with
    the reason (rather than waiting in `validating` forever), and a checked result is rejected.
    """
    row = await query_one(db, "SELECT * FROM tasks WHERE id = ?", (validator_id,))
    if row is None or row["kind"] == "work":
        return
    why = f"its validator {validator_id} failed without a verdict: {reason}"
    if row["validates"] is not None:
        work = await query_one(db, "SELECT status, summary FROM tasks WHERE id = ?",
                               (row["validates"],))  # fmt: skip
        if work is not None and work["status"] == "validating":
            await _close(db, row["validates"], "failed", work["summary"], reason=why)
    else:
        await db.execute(
            "UPDATE results SET status = 'rejected', feedback = ?, decided_at = ?"
            " WHERE id = ? AND status = 'pending'",
            (why, now(), row["result_id"]),
        )
    await record_event(db, validator_id, "review_abandoned", run_id=row["run_id"],
                       task_id=row["validates"], reason=reason)  # fmt: skip
