"""Concurrent encode requests share model calls, and each caller gets its own rows."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from heph_mcp.memory.batcher import MicroBatcher


async def test_concurrent_requests_are_coalesced_into_few_calls():
    release = asyncio.Event()
    sizes: list[int] = []

    async def encode(texts: list[str]) -> np.ndarray:
        sizes.append(len(texts))
        await release.wait()  # hold the first call so the others queue behind it
        return np.array([[float(t)] for t in texts])

    batcher = MicroBatcher(encode, max_batch=64)
    first = asyncio.create_task(batcher.submit(["0"]))
    while not sizes:  # the first call is now encoding
        await asyncio.sleep(0)
    later = [asyncio.create_task(batcher.submit([str(n)])) for n in range(1, 20)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(first, *later)
    assert [r[0][0] for r in results] == [float(n) for n in range(20)]
    assert sizes == [1, 19] and batcher.calls == 2


async def test_a_batch_never_exceeds_max_batch_texts():
    sizes: list[int] = []

    async def encode(texts: list[str]) -> np.ndarray:
        sizes.append(len(texts))
        await asyncio.sleep(0)
        return np.zeros((len(texts), 2))

    batcher = MicroBatcher(encode, max_batch=4)
    await asyncio.gather(*(batcher.submit(["a", "b", "c"]) for _ in range(5)))
    assert max(sizes) <= 4 and sum(sizes) == 15


async def test_an_encode_failure_reaches_every_waiting_caller():
    async def encode(texts: list[str]) -> np.ndarray:
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(encode)
    results = await asyncio.gather(
        *(batcher.submit(["x"]) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError):
        await batcher.submit(["y"])


async def test_the_real_model_gives_unit_vectors_of_384_dimensions(embedder):
    vectors = await asyncio.gather(*(embedder.embed([f"text {n}"]) for n in range(8)))
    assert all(v.shape == (1, 384) for v in vectors)
    assert np.allclose([np.linalg.norm(v) for v in vectors], 1.0, atol=1e-4)
