"""The Qdrant index: model changes are caught, the embedded folder has one owner."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from typer.testing import CliRunner

from heph_mcp.commands.cli import app
from heph_mcp.memory import MEMORIES, TASKS
from heph_mcp.memory.vectors import (
    IndexLocked,
    IndexMismatch,
    ScopedIndex,
    VectorIndex,
    local_storage,
    open_qdrant,
)
from heph_mcp.serve import ServeError, preflight
from heph_mcp.settings import load_settings
from testkit import free_port


async def test_a_collection_built_with_another_model_or_dimension_is_refused(tmp_path):
    client = open_qdrant(tmp_path / "q", None, None)
    index = VectorIndex(client, "c")
    await index.ensure(4, "model-a")
    with pytest.raises(IndexMismatch, match="model 'model-a' .4 dims. but the configured model"):
        await index.ensure(8, "model-a")
    with pytest.raises(IndexMismatch, match="heph memory reindex"):
        await index.ensure(4, "model-b")
    await index.ensure(4, "model-a")
    await client.close()


async def test_the_embedded_folder_cannot_be_opened_twice(tmp_path):
    client = open_qdrant(tmp_path / "q", None, None)
    with pytest.raises(IndexLocked, match="locked by another process"):
        open_qdrant(tmp_path / "q", None, None)
    await client.close()


async def test_scoped_search_sees_only_the_given_scopes_best_first(tmp_path):
    client = open_qdrant(tmp_path / "q", None, None)
    index = ScopedIndex(client, "t_")
    await index.setup(3, "m")
    vectors = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    await index.upsert("r1", ["a"], vectors[:1], [{}])
    await index.upsert("r2", ["b"], vectors[1:2], [{}])
    await index.upsert("project", ["c"], vectors[2:], [{}])
    mine = await index.search(["r1", "project"], vectors[1], limit=5)
    everywhere = await index.search(None, vectors[1], limit=5)
    missing = await index.search(["r9"], vectors[1], limit=5)
    await client.close()
    assert [h.id for h in mine] == ["a", "c"]
    assert [h.id for h in everywhere] == ["b", "a", "c"] and missing == []


async def test_one_batched_search_answers_every_vector_in_order(tmp_path):
    client = open_qdrant(tmp_path / "q", None, None)
    index = ScopedIndex(client, "t_")
    await index.setup(3, "m")
    vectors = np.eye(3, dtype=np.float32)
    await index.upsert("r1", ["a", "b"], vectors[:2], [{}, {}])
    found = await index.search_each("r1", vectors[[1, 2, 0]], limit=1, threshold=0.5)
    unknown = await index.search_each("r9", vectors[:2], limit=1)
    await client.close()
    assert [[h.id for h in hits] for hits in found] == [["b"], [], ["a"]]
    assert found[0][0].score == pytest.approx(1.0) and unknown == [[], []]


async def test_search_honours_the_filter(tmp_path):
    client = open_qdrant(tmp_path / "q", None, None)
    index = VectorIndex(client, "c")
    await index.ensure(3, "m")
    vectors = np.eye(3, dtype=np.float32)
    await index.upsert(["a", "b"], vectors[:2], [{"scope": "r1"}, {"scope": "r2"}])
    hits = await index.search(vectors[1], {"scope": ["r1"]}, limit=5)
    await client.close()
    assert [h.id for h in hits] == ["a"]


def test_a_model_change_stops_the_server_at_start_and_reindex_fixes_it(tmp_path, serve):
    settings = load_settings(project=tmp_path, port=free_port())

    async def populate() -> None:
        async with serve(settings) as heph:
            async with heph.user() as user:
                await user.call_tool("save_memory", {"content": "Use ruff.", "type": "decision"})
            await heph.start_run()

    async def pretend_an_older_model_built_the_index() -> None:
        client = open_qdrant(settings.qdrant_path, None, None)
        collections = (await client.get_collections()).collections
        names = [c.name for c in collections if c.name.startswith((MEMORIES, TASKS))]
        assert len(names) == 2  # the project's memories and the run's tasks
        for name in names:
            await client.update_collection(name, metadata={"model": "old-model"})
        await client.close()

    asyncio.run(populate())
    asyncio.run(pretend_an_older_model_built_the_index())
    with pytest.raises(ServeError, match="built with model 'old-model'.*heph memory reindex"):
        preflight(settings)
    result = CliRunner().invoke(app, ["memory", "reindex", "--project", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "reindexed 1 memories and 1 tasks" in result.stdout
    preflight(settings)


async def test_embedded_points_are_stored_with_the_durability_of_our_own_database(tmp_path):
    """One sync per point made upserts the slowest part of a save (see relax_local_sync)."""
    client = open_qdrant(tmp_path / "q", None, None)
    await VectorIndex(client, "fresh").ensure(4, "m")
    await client.close()
    client = open_qdrant(tmp_path / "q", None, None)  # reopened: the setting is per connection
    index = VectorIndex(client, "fresh")
    await index.ensure(4, "m")
    await index.upsert(["k1"], np.asarray([[1.0, 0, 0, 0]], dtype=np.float32), [{}])
    storage = local_storage(client, "fresh")
    assert storage is not None
    assert storage.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert storage.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    hits = await index.search(np.asarray([1.0, 0, 0, 0], dtype=np.float32), {}, 1)
    assert [(h.id, round(h.score, 4)) for h in hits] == [("k1", 1.0)]
    await client.close()
