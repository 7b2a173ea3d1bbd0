"""Duplicate and related tasks, found by embedding title + description.

A new task nearly identical to an open or done task of the same run and
phase is recorded as `duplicate` pointing at that task, so two agents that
discover the same problem do not both get an agent for it. Less similar
tasks of the run are linked as related and shown with the task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from heph_mcp.memory import IndexItem, Memory
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
            [run_id], vector, limit=10, threshold=self.related_threshold
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
        await self._memory.tasks.upsert(run_id, [task_id], vector[None, :], [{"phase": phase}])

    async def reindex(self, progress: Callable[[int], object] | None = None) -> int:
        rows = await self._store.fetchall(
            "SELECT id, run_id, phase, title, description FROM tasks WHERE status != 'duplicate'"
        )
        items = [
            IndexItem(
                r["run_id"], r["id"], task_text(r["title"], r["description"]), {"phase": r["phase"]}
            )
            for r in rows
        ]
        return await self._memory.rebuild(self._memory.tasks, items, progress)
