"""Coalesce concurrent requests into one call (model encodes, memory saves).

While one batch is running, new requests queue; when it finishes, everything
queued goes in the next call (up to `max_batch` items). One caller alone pays
no waiting; many callers share one call instead of contending for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")  # a sliceable batch result: a numpy array or a list, one row per item
Pending = tuple[list[Any], "asyncio.Future[Any]"]


class MicroBatcher(Generic[T, R]):
    def __init__(self, run: Callable[[list[T]], Awaitable[R]], max_batch: int = 64):
        self._encode = run
        self._max_batch = max_batch
        self._pending: list[Pending] = []
        self._worker: asyncio.Task[None] | None = None
        self.calls = 0  # batch calls made, for benchmarks

    async def submit(self, texts: list[T]) -> R:
        """Run `texts` as part of a batch; returns their rows of the batch result."""
        if not texts:
            return await self._encode([])
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((texts, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._take()
            texts = [t for item, _ in batch for t in item]
            try:
                self.calls += 1
                vectors = await self._encode(texts)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for item, future in batch:
                if not future.done():
                    future.set_result(vectors[start : start + len(item)])  # type: ignore[index]
                start += len(item)

    def _take(self) -> list[Pending]:
        """Whole requests, oldest first, up to max_batch items (at least one request)."""
        taken: list[Pending] = []
        size = 0
        while self._pending and (not taken or size + len(self._pending[0][0]) <= self._max_batch):
            item = self._pending.pop(0)
            taken.append(item)
            size += len(item[0])
        return taken
