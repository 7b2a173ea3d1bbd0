"""Coalesce concurrent encode requests into one call.

While one batch is encoding, new requests queue; when it finishes, everything
queued goes in the next call (up to `max_batch` texts). One caller alone pays
no waiting; many callers share one model call instead of contending for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np

Encode = Callable[[list[str]], Awaitable[np.ndarray]]


class MicroBatcher:
    def __init__(self, encode: Encode, max_batch: int = 64):
        self._encode = encode
        self._max_batch = max_batch
        self._pending: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.calls = 0  # encode calls made, for benchmarks

    async def submit(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
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
                    future.set_result(vectors[start : start + len(item)])
                start += len(item)

    def _take(self) -> list[tuple[list[str], asyncio.Future[np.ndarray]]]:
        """Whole requests, oldest first, up to max_batch texts (at least one request)."""
        taken: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        size = 0
        while self._pending and (not taken or size + len(self._pending[0][0]) <= self._max_batch):
            item = self._pending.pop(0)
            taken.append(item)
            size += len(item[0])
        return taken
