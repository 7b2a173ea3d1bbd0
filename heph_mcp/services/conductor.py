"""The Conductor's whole-run checks, run by the Guardian once per cycle.

Two things no single agent can see: two agents doing the same work (found by
embedding each running task with the Guardian's latest summary of it), and a
run that has stopped moving (nothing open, nothing running) which gets one
diagnostic phase-1 task instead of silently idling.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from heph_mcp.errors import Conflict, NotFound
from heph_mcp.memory import Memory
from heph_mcp.merge_records import PENDING_MERGES
from heph_mcp.notify import Notifier
from heph_mcp.records import OPEN_STATUSES, Principal, Task
from heph_mcp.services.branch_work import complete_if_landed
from heph_mcp.services.common import now, record_event
from heph_mcp.services.tasks import TaskService
from heph_mcp.store import Store, query_one

DIAGNOSTIC_TITLE = "Diagnose why the run stopped and decide what comes next"
# Statuses that move by themselves; `blocked` waits on others, so a run whose open work
# is all blocked has stopped as surely as one with nothing open.
MOVING = tuple(s for s in OPEN_STATUSES if s != "blocked")


class Overlap(BaseModel):
    run_id: str
    earlier_task: str
    earlier_title: str
    later_task: str
    later_agent: str
    score: float


class ConductorService:
    def __init__(
        self,
        store: Store,
        memory: Memory,
        tasks: TaskService,
        threshold: float,
        notifier: Notifier | None = None,
    ):
        self._notifier = notifier or Notifier()
        self._store = store
        self._memory = memory
        self._tasks = tasks
        self.threshold = threshold

    async def overlaps(self) -> list[Overlap]:
        """Pairs of running tasks of one run that look like the same work, later one second."""
        rows = await self._store.fetchall(
            "SELECT t.id, t.run_id, t.title, t.description, a.id AS agent_id, a.started_at,"
            " (SELECT summary FROM analyses n WHERE n.agent_id = a.id ORDER BY n.id DESC"
            "  LIMIT 1) AS summary"
            " FROM tasks t JOIN agents a ON a.task_id = t.id AND a.status = 'running'"
            # A validator resembles the work it checks by design: only workers can duplicate.
            " WHERE t.status = 'running' AND t.kind = 'work' ORDER BY a.started_at"
        )
        if len(rows) < 2:
            return []
        texts = [f"{r['title']}\n{r['description']}\n{r['summary'] or ''}" for r in rows]
        vectors = np.asarray(await self._memory.embedder.embed(texts))
        scores = vectors @ vectors.T
        found = []
        for i, earlier in enumerate(rows):
            for j in range(i + 1, len(rows)):
                later = rows[j]
                if later["run_id"] == earlier["run_id"] and scores[i, j] >= self.threshold:
                    found.append(
                        Overlap(
                            run_id=later["run_id"], earlier_task=earlier["id"],
                            earlier_title=earlier["title"], later_task=later["id"],
                            later_agent=later["agent_id"], score=round(float(scores[i, j]), 4),
                        )
                    )  # fmt: skip
        return found

    async def cancel_task(self, principal: Principal, task_id: str, reason: str) -> Task:
        """Cancel one open task (the later of two duplicates) and any open check of its work;
        their launcher ends the sessions."""
        marks = ",".join("?" * len(OPEN_STATUSES))
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE tasks SET status = 'cancelled', failure_reason = ?, updated_at = ?,"
                f" finished_at = ? WHERE id = ? AND status IN ({marks})",
                (reason, now(), now(), task_id, *OPEN_STATUSES),
            )
            await db.execute(
                "UPDATE tasks SET status = 'cancelled', failure_reason = ?, updated_at = ?,"
                f" finished_at = ? WHERE validates = ? AND status IN ({marks})",
                (f"the task it checks was cancelled: {reason}", now(), now(), task_id,
                 *OPEN_STATUSES),
            )  # fmt: skip
            if cursor.rowcount == 0:
                row = await query_one(db, "SELECT status FROM tasks WHERE id = ?", (task_id,))
                if row is None:
                    raise NotFound(f"no task {task_id!r}")
                raise Conflict(f"task {task_id} is already {row['status']}; nothing changed")
            run = await query_one(db, "SELECT run_id FROM tasks WHERE id = ?", (task_id,))
            await record_event(
                db, principal.id, "task_cancelled", run_id=run["run_id"] if run else None,
                task_id=task_id, reason=reason,
            )  # fmt: skip
        await self._notifier.queue_changed()
        return await self._tasks.reader.one(task_id)

    async def diagnose_stalled(self, principal: Principal) -> list[Task]:
        """One diagnostic phase-1 task for each active run where nothing can move (once); a
        merge still in the run's queue is movement."""
        await self._complete_waiting(principal)
        marks = ",".join("?" * len(MOVING))
        rows = await self._store.fetchall(
            "SELECT r.id, r.goal FROM runs r WHERE r.status = 'active'"
            " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.run_id = r.id"
            f"  AND (t.status IN ({marks}) OR t.merge_state IN {PENDING_MERGES!r}))"
            " AND NOT EXISTS (SELECT 1 FROM tasks d WHERE d.run_id = r.id AND d.title = ?)",
            (*MOVING, DIAGNOSTIC_TITLE),
        )
        created = []
        for row in rows:
            draft = await self._tasks.draft(
                principal, phase=1, run=row["id"], title=DIAGNOSTIC_TITLE, priority="high",
                description=(
                    f"Nothing is queued or running in this run any more, and it has no "
                    f"result. Goal: {row['goal']}\nRead the finished tasks (get_tasks, "
                    "get_task) and the shared memory, decide whether the goal is met, and "
                    "create the tasks that are still missing in the right phases. Tasks "
                    "still `blocked` wait on work that failed or on tickets nobody works "
                    "on: create that work, or resolve the tickets if they no longer "
                    "matter. If the goal is met, say so in your summary and create nothing."
                ),
            )  # fmt: skip
            created.append(await self._tasks.create(principal, draft, check_duplicates=False))
        return created

    async def _complete_waiting(self, principal: Principal) -> None:
        """Complete the runs waiting for merges that no longer miss anything: their last missing
        work may have stopped being owed without a merge (failed, cancelled), which no landing
        will report."""
        rows = await self._store.fetchall(
            "SELECT id FROM runs WHERE status = 'active' AND awaiting_merges_since IS NOT NULL"
        )
        completed = False
        for row in rows:
            async with self._store.transaction() as db:
                completed |= await complete_if_landed(db, row["id"], principal.id)
        if completed:
            await self._notifier.queue_changed()
