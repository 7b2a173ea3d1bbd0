"""Saves that arrive together are sorted out together: the service with the real model and
embedded Qdrant, no server, so the batch they share is certain."""

from __future__ import annotations

import asyncio

import pytest

from heph_mcp.memory import Memory
from heph_mcp.records import Principal
from heph_mcp.services.memories import MemoryService
from heph_mcp.store import Store

NOTE = "The nightly export job writes its CSV files to /var/exports and keeps them a week."
SAME = "The nightly export job writes its CSV files to /var/exports and keeps them one week."
AGAIN = "The nightly export job writes its CSV file to /var/exports and keeps it a week."


@pytest.fixture
async def service(settings, embedder):
    store = await Store.open(settings.db_path)
    memory = Memory.open(settings, embedder=embedder)
    await memory.ensure_collections()
    async with store.transaction() as db:
        for run in ("rA", "rB"):
            await db.execute(
                "INSERT INTO runs (id, workflow_name, workflow, goal, params, status, max_agents,"
                " created_by, created_at, updated_at)"
                " VALUES (?, 'w', '{}', 'g', '{}', 'active', 4, 'user', 0, 0)",
                (run,),
            )
    yield MemoryService(store, memory, settings)
    await memory.close()
    await store.close()


async def test_one_batch_merges_within_each_scope_only_and_answers_in_order(service):
    in_a = Principal(id="a1", role="agent", run_id="rA")
    in_b = Principal(id="b1", role="agent", run_id="rB")
    user = Principal(id="user", role="user")
    stored = await service.save(in_a, NOTE, "discovery")
    batches_before = service._saves.calls
    results = await asyncio.gather(
        service.save(in_a, SAME, "discovery", tags=["a"]),  # twin stored in run A
        service.save(in_b, SAME, "discovery"),  # new in run B
        service.save(user, SAME, "decision"),  # new in the project
        service.save(in_b, AGAIN, "discovery", tags=["b"]),  # twin new in this batch, run B
    )
    assert service._saves.calls == batches_before + 1  # the four shared one batch
    merged_a, new_b, new_project, merged_b = results
    assert merged_a.merged and merged_a.memory.id == stored.memory.id
    assert merged_a.memory.tags == ["a"] and merged_a.memory.merged_count == 1
    assert not new_b.merged and new_b.memory.scope == "rB"
    assert not new_project.merged and new_project.memory.scope == "project"
    assert merged_b.merged and merged_b.memory.id == new_b.memory.id
    assert merged_b.memory.tags == ["b"] and merged_b.similarity >= 0.95
