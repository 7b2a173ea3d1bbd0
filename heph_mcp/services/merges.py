"""Record where each finished task's branch is in its run's merge queue, and what follows.

The launcher does the git work (it owns the worktrees and the queue) and
reports each step: queued, verifying, then merged, nothing, conflict or
verify_failed. The server keeps the state with the task and acts on the
outcome, so nothing a finished agent wrote is silently dropped: a conflict
queues the work of resolving it, a failed verify sends the task back or
queues a fix, and a run waiting on its merges completes when the last lands.
"""

from __future__ import annotations

import re

import aiosqlite
from pydantic import BaseModel, Field

from heph_mcp.errors import Conflict
from heph_mcp.merge_records import LineageSource, MergeCheck, MergeState, QueuedMerge
from heph_mcp.notify import Notifier
from heph_mcp.records import Principal, Task
from heph_mcp.services.branch_work import complete_if_landed, merge_queue
from heph_mcp.services.common import RunWorkflows, TaskReader, now, record_event, task_branch
from heph_mcp.services.tasks import TaskService
from heph_mcp.store import Store, query_all, query_one
from phases import Verify, Workflow

IMPLEMENTATION = re.compile(r"implement|fix|build|develop|code|write", re.IGNORECASE)
FINAL = ("merged", "nothing", "conflict")
# The merge worker a worker on another host names when it hands its pushed branch over:
# the server host's launcher takes these (take_merges) and merges them.
REMOTE = "remote"


class MergeRecorded(BaseModel):
    task_id: str
    merge_state: MergeState
    resolve_task: Task | None = Field(default=None, description="Queued for a conflict")
    fix_task: Task | None = Field(default=None, description="Queued for a failed verify")
    sent_back: bool = Field(default=False, description="The task went back to needs_work")
    verify: Verify | None = Field(
        default=None, description="The check this merge must pass before the branch moves"
    )
    after: list[LineageSource] = Field(
        default_factory=list,
        description="The work this task started from (its creator's, its dependencies'): its"
        " merge waits until those commits are on the run's branch, so it never lands them"
        " before their own merge (and validation) does",
    )
    run_completed: bool = False


def resolve_phase(workflow: Workflow, fallback: int) -> int:
    """The phase that changes code: the first whose name says so, else the conflicting task's."""
    return next((p.id for p in workflow.phases if IMPLEMENTATION.search(p.name)), fallback)


def verify_feedback(run_id: str, check: MergeCheck) -> str:
    """What the agent of a task sent back by its merge check reads in its brief."""
    how = "timed out" if check.timed_out else f"exited with status {check.exit_code}"
    log = f"\nIts whole output is in {check.log}." if check.log else ""
    return (
        f"Merging your branch into heph/{run_id} was checked with `{check.command}`, which {how}"
        f" after {check.seconds:.1f}s, so heph/{run_id} did not move. The end of its output:\n"
        f"```\n{check.output.strip()}\n```{log}\n\nMake that command pass on your branch merged"
        f" with heph/{run_id} (`git merge heph/{run_id}`, then run it), commit, and report done"
        " again."
    )


class MergeService:
    def __init__(
        self,
        store: Store,
        tasks: TaskService,
        reader: TaskReader,
        run_workflows: RunWorkflows,
        notifier: Notifier | None = None,
        max_send_backs: int = 3,
    ):
        self._store = store
        self._tasks = tasks
        self._reader = reader
        self._run_workflows = run_workflows
        self._notifier = notifier or Notifier()
        self._max_send_backs = max_send_backs

    async def record(
        self,
        principal: Principal,
        task_id: str,
        state: MergeState,
        commit: str | None = None,
        conflicts: list[str] | None = None,
        worker: str | None = None,
        check: MergeCheck | None = None,
    ) -> MergeRecorded:
        """Store one step of a task's merge and do what its outcome calls for, in one
        transaction: an outcome is never stored without the task it calls for. A run that can
        take no new task (cancelled, completed) gets the outcome alone."""
        task = await self._reader.one(task_id)
        _require_next(task, state)
        workflow = await self._run_workflows.get(task.run_id)
        verify = workflow.verify_for(task.phase)
        recorded = MergeRecorded(task_id=task_id, merge_state=state)
        follow_up = await self._draft_follow_up(principal, task, state, conflicts, verify, check)
        async with self._store.transaction() as db:
            await _store_step(db, task_id, state, commit, worker, check)
            await record_event(
                db, principal.id, f"merge_{state}", run_id=task.run_id, task_id=task_id,
                commit=commit, conflicts=conflicts or [], worker=worker,
                check=check.model_dump(exclude={"output"}) if check else None,
            )  # fmt: skip
            if state in ("merged", "nothing"):
                recorded.run_completed = await complete_if_landed(db, task.run_id, principal.id)
            if state == "verify_failed" and (verify is None or verify.on_fail == "needs_work"):
                recorded.sent_back = await self._send_back(db, task, check)
            if follow_up is not None and await _run_is_active(db, task.run_id):
                await self._tasks.add(db, principal, follow_up)
                if state == "conflict":
                    recorded.resolve_task = follow_up
                else:
                    recorded.fix_task = follow_up
        if state == "queued":
            recorded.verify = verify
            holds = task.lineage.holds if task.lineage else []
            recorded.after = [h for h in holds if h.role in ("creator", "dependency")]
        if any((recorded.sent_back, recorded.run_completed, recorded.resolve_task,
                recorded.fix_task, worker == REMOTE)):  # fmt: skip
            await self._notifier.queue_changed()
        return recorded

    async def take(self, worker: str) -> list[QueuedMerge]:
        """Give `worker` the merges handed over by workers on other hosts (merge_worker
        REMOTE): they pushed the branch here, and only this host's launcher merges."""
        async with self._store.transaction() as db:
            rows = await query_all(
                db,
                "SELECT id FROM tasks WHERE merge_worker = ?"
                " AND merge_state IN ('queued', 'verifying')",
                (REMOTE,),
            )
            ids = [r["id"] for r in rows]
            await db.executemany(
                "UPDATE tasks SET merge_worker = ? WHERE id = ?", [(worker, i) for i in ids]
            )
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        return await merge_queue(self._store, f"id IN ({marks})", tuple(ids))

    async def pending(self, worker: str) -> list[QueuedMerge]:
        """Merges a worker queued and has not finished: a restarted launcher takes them back."""
        return await merge_queue(self._store, "merge_worker = ?", (worker,))

    async def _send_back(
        self, db: aiosqlite.Connection, task: Task, check: MergeCheck | None
    ) -> bool:
        """A done task whose merged tree failed its check goes back to its agent with the
        output, like a failed review; after `max_send_backs` it fails instead of looping."""
        row = await query_one(
            db,
            "SELECT t.status, r.status AS run_status, (SELECT COUNT(*) FROM events e"
            " WHERE e.task_id = t.id AND e.kind = 'merge_verify_failed') AS failures"
            " FROM tasks t JOIN runs r ON r.id = t.run_id WHERE t.id = ?",
            (task.id,),
        )
        if row is None or row["status"] != "done" or row["run_status"] != "active":
            return False
        check = check or MergeCheck(command="(unknown)", passed=False)
        text = verify_feedback(task.run_id, check)
        if row["failures"] >= self._max_send_backs:
            reason = f"its merge failed its verify {row['failures']} times; last: {text}"
            await db.execute(
                "UPDATE tasks SET status = 'failed', failure_reason = ?, updated_at = ?"
                " WHERE id = ?",
                (reason, now(), task.id),
            )
            await record_event(db, "hephaestus", "task_failed", run_id=task.run_id,
                               task_id=task.id, reason=reason)  # fmt: skip
            return False
        await db.execute(
            "UPDATE tasks SET status = 'needs_work', feedback = ?, feedback_from = 'verify',"
            " claimed_by = NULL, finished_at = NULL, updated_at = ? WHERE id = ?",
            (text, now(), task.id),
        )
        await record_event(db, "hephaestus", "task_sent_back", run_id=task.run_id,
                           task_id=task.id, by="verify")  # fmt: skip
        return True

    async def _draft_follow_up(
        self,
        principal: Principal,
        task: Task,
        state: MergeState,
        conflicts: list[str] | None,
        verify: Verify | None,
        check: MergeCheck | None,
    ) -> Task | None:
        """The task an outcome calls for, drafted before the transaction that stores both."""
        if state == "conflict":
            return await self._resolve_task(principal, task, conflicts or [])
        if state == "verify_failed" and verify is not None and verify.on_fail == "fix_task":
            return await self._fix_task(principal, task, verify, check)
        return None

    async def _resolve_task(self, principal: Principal, task: Task, files: list[str]) -> Task:
        branch = task_branch(task.run_id, task.id)
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        description = (
            f"Merging task {task.id} ({task.title}) into heph/{task.run_id} conflicted in: "
            f"{', '.join(files)}.\n\nYour branch starts from that task's branch {branch}. "
            f"Run `git merge heph/{task.run_id}`, resolve every conflict keeping the intent of "
            "both sides, run the relevant tests, and commit. Nothing of either side may be lost."
        )
        return await self._follow_up(
            principal, task, f"Resolve merge conflict in {shown}", description,
            "The merge commit is on your branch with no conflict markers left.",
        )  # fmt: skip

    async def _fix_task(
        self, principal: Principal, task: Task, verify: Verify, check: MergeCheck | None
    ) -> Task:
        branch = task_branch(task.run_id, task.id)
        failed = verify_feedback(task.run_id, check or MergeCheck(command=verify.command,
                                                                   passed=False))  # fmt: skip
        description = (
            f"Task {task.id} ({task.title}) is done, but its merge into heph/{task.run_id} failed"
            f" the run's check. Your branch starts from that task's branch {branch}.\n\n{failed}"
        )
        done = f"`{verify.command}` passes on your branch merged with heph/{task.run_id}."
        title = f"Make `{verify.command}` pass with: {task.title}"[:200]
        return await self._follow_up(principal, task, title, description, done)

    async def _follow_up(
        self, principal: Principal, task: Task, title: str, description: str, done: str
    ) -> Task:
        """A task that carries `task`'s work: it starts from its branch, so its own merge lands
        that work too. Never folded into a duplicate: each conflict and failure is its own."""
        workflow = await self._run_workflows.get(task.run_id)
        return await self._tasks.draft(
            principal, phase=resolve_phase(workflow, task.phase), title=title,
            description=description, done_definition=done, priority="high", run=task.run_id,
            base_ref=task_branch(task.run_id, task.id), parent_task_id=task.id, carries=task.id,
        )  # fmt: skip


async def _run_is_active(db: aiosqlite.Connection, run_id: str) -> bool:
    row = await query_one(db, "SELECT status FROM runs WHERE id = ?", (run_id,))
    return row is not None and row["status"] == "active"


def _require_next(task: Task, state: MergeState) -> None:
    """A merge ends once; only a task whose check failed may be queued again (a new attempt)."""
    if task.merge_state in FINAL:
        raise Conflict(f"task {task.id} already has a merge outcome ({task.merge_state})")
    if task.merge_state == "verify_failed" and state != "queued":
        raise Conflict(
            f"task {task.id}'s last merge failed its verify; only a new attempt (state queued)"
            " can follow"
        )


async def _store_step(
    db: aiosqlite.Connection,
    task_id: str,
    state: MergeState,
    commit: str | None,
    worker: str | None,
    check: MergeCheck | None,
) -> None:
    """A re-queue of a merge already in the queue (a restarted launcher) keeps its place."""
    await db.execute(
        "UPDATE tasks SET merge_queued_at = CASE WHEN ? = 'queued' AND merge_state IS NOT"
        " 'queued' AND merge_state IS NOT 'verifying' THEN ? ELSE merge_queued_at END,"
        " merge_state = ?, merge_commit = COALESCE(?, merge_commit),"
        " merge_worker = COALESCE(?, merge_worker), merge_check = COALESCE(?, merge_check),"
        " updated_at = ? WHERE id = ?",
        (state, now(), state, commit, worker, check.model_dump_json() if check else None,
         now(), task_id),
    )  # fmt: skip
