"""Duplicate and related tasks, found by embedding title + description.

A new task nearly identical to an open or done task of the same run and
phase is recorded as `duplicate` pointing at that task, so two agents that
discover the same problem do not both get an agent for it. Less similar
tasks of the run are linked as related and shown with the task.
"""

from __future__ import annotations

import asyncio

import numpy as np

from heph_mcp.memory import Memory
from heph_mcp.records import RelatedTask
from heph_mcp.settings import Settings
from heph_mcp.store import Store

# Statuses a duplicate may point at: work that is happening or has happened.
LIVE = ("queued", "blocked", "claimed", "running", "validating", "needs_work", "done")


def task_text(title: str, description: str) -> str:
    return f"{title}\n{description}"


class TaskDeduper:
    def __init__(self, store: Store, memory: Memory, settings: Settings):
        self._store = store
        self._memory = memory
        self.duplicate_threshold = settings.task_duplicate_threshold
        self.related_threshold = settings.task_related_threshold
        # Check-then-insert must not interleave, or two identical tasks both pass.
        self.lock = asyncio.Lock()

    async def vector(self, title: str, description: str) -> np.ndarray:
        return (await self._memory.embedder.embed([task_text(title, description)]))[0]

    async def check(
        self, run_id: str, phase: int, vector: np.ndarray
    ) -> tuple[RelatedTask | None, list[RelatedTask]]:
        hits = await self._memory.tasks.search(
            vector, {"run_id": run_id}, limit=10, threshold=self.related_threshold
        )
        if not hits:
            return None, []
        marks = ",".join("?" * len(hits))
        rows = await self._store.fetchall(
            f"SELECT id, title, phase, status FROM tasks WHERE id IN ({marks})",
            [h.id for h in hits],
        )
        by_id = {r["id"]: r for r in rows}
        found = [
            RelatedTask(
                id=h.id,
                title=by_id[h.id]["title"],
                phase=by_id[h.id]["phase"],
                status=by_id[h.id]["status"],
                score=round(h.score, 4),
            )
            for h in hits
            if h.id in by_id
        ]
        duplicate = next(
            (
                t
                for t in found
                if t.phase == phase and t.status in LIVE and t.score >= self.duplicate_threshold
            ),
            None,
        )
        return duplicate, [t for t in found if t is not duplicate]

    async def index(self, task_id: str, run_id: str, phase: int, vector: np.ndarray) -> None:
        await self._memory.tasks.upsert(
            [task_id], vector[None, :], [{"run_id": run_id, "phase": phase}]
        )

    async def reindex(self, progress: object = None) -> int:
        index = self._memory.tasks
        await index.recreate(
            await self._memory.embedder.dimension(), self._memory.embedder.model_name
        )
        rows = await self._store.fetchall(
            "SELECT id, run_id, phase, title, description FROM tasks WHERE status != 'duplicate'"
        )
        for start in range(0, len(rows), 64):
            chunk = rows[start : start + 64]
            vectors = await self._memory.embedder.embed(
                [task_text(r["title"], r["description"]) for r in chunk]
            )
            await index.upsert(
                [r["id"] for r in chunk],
                vectors,
                [{"run_id": r["run_id"], "phase": r["phase"]} for r in chunk],
            )
            if callable(progress):
                progress(len(chunk))
        return len(rows)
