"""Record what happened when the launcher merged a finished task into its run's branch.

The launcher does the git work (it owns the worktrees); the server keeps the
outcome with the task and, on a conflict, queues the work of resolving it so
nothing a finished agent wrote is silently dropped.
"""

from __future__ import annotations

import re
from typing import Literal

from heph_mcp.errors import Conflict
from heph_mcp.records import Principal, Task
from heph_mcp.services.common import RunWorkflows, TaskReader, now, record_event, task_branch
from heph_mcp.services.tasks import TaskService
from heph_mcp.store import Store
from phases import Workflow

MergeState = Literal["merged", "nothing", "conflict"]
IMPLEMENTATION = re.compile(r"implement|fix|build|develop|code|write", re.IGNORECASE)


def resolve_phase(workflow: Workflow, fallback: int) -> int:
    """The phase that changes code: the first whose name says so, else the conflicting task's."""
    return next((p.id for p in workflow.phases if IMPLEMENTATION.search(p.name)), fallback)


class MergeService:
    def __init__(
        self, store: Store, tasks: TaskService, reader: TaskReader, run_workflows: RunWorkflows
    ):
        self._store = store
        self._tasks = tasks
        self._reader = reader
        self._run_workflows = run_workflows

    async def record(
        self,
        principal: Principal,
        task_id: str,
        state: MergeState,
        commit: str | None,
        conflicts: list[str],
    ) -> Task | None:
        """Store the outcome; on a conflict return the resolve task created for it."""
        task = await self._reader.one(task_id)
        if task.merge_state is not None:
            raise Conflict(f"task {task_id} already has a merge outcome ({task.merge_state})")
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE tasks SET merge_state = ?, merge_commit = ?, updated_at = ? WHERE id = ?",
                (state, commit, now(), task_id),
            )
            await record_event(
                db,
                principal.id,
                f"merge_{state}",
                run_id=task.run_id,
                task_id=task_id,
                commit=commit,
                conflicts=conflicts,
            )
        if state != "conflict":
            return None
        return await self._resolve_task(principal, task, conflicts)

    async def _resolve_task(self, principal: Principal, task: Task, files: list[str]) -> Task:
        branch = task_branch(task.run_id, task.id)
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        workflow = await self._run_workflows.get(task.run_id)
        description = (
            f"Merging task {task.id} ({task.title}) into heph/{task.run_id} conflicted in: "
            f"{', '.join(files)}.\n\nYour branch starts from that task's branch {branch}. "
            f"Run `git merge heph/{task.run_id}`, resolve every conflict keeping the intent of "
            "both sides, run the relevant tests, and commit. Nothing of either side may be lost."
        )
        return await self._tasks.create(
            principal,
            phase=resolve_phase(workflow, task.phase),
            title=f"Resolve merge conflict in {shown}",
            description=description,
            done_definition="The merge commit is on your branch with no conflict markers left.",
            priority="high",
            run=task.run_id,
            base_ref=branch,
            parent_task_id=task.id,
            check_duplicates=False,
        )
