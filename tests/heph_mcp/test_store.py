"""The SQLite store: pragmas, migrations recorded once, transactions all-or-nothing."""

from __future__ import annotations

import sqlite3

import pytest

from heph_mcp.migrations import MIGRATIONS
from heph_mcp.store import Store


async def test_opening_a_store_applies_every_migration_once_and_records_it(tmp_path):
    path = tmp_path / "heph.db"
    store = await Store.open(path)
    again = await store.migrate()
    await store.close()
    reopened = await Store.open(path)
    await reopened.close()
    with sqlite3.connect(path) as conn:
        recorded = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert again == []
    assert recorded == [(i + 1, name) for i, (name, _) in enumerate(MIGRATIONS)]


async def test_the_store_uses_wal_and_foreign_keys(tmp_path):
    store = await Store.open(tmp_path / "heph.db")
    mode = await store.fetchone("PRAGMA journal_mode")
    async with store.transaction() as db:
        fk = await (await db.execute("PRAGMA foreign_keys")).fetchone()
    await store.close()
    assert mode[0] == "wal" and fk[0] == 1


async def test_a_failed_transaction_leaves_nothing_behind(tmp_path):
    store = await Store.open(tmp_path / "heph.db")
    with pytest.raises(RuntimeError):
        async with store.transaction() as db:
            await db.execute("INSERT INTO workflows VALUES ('w', '{}', 'user', 0)")
            raise RuntimeError("boom")
    rows = await store.fetchall("SELECT * FROM workflows")
    assert rows == [] and await store.integrity_check() == "ok"
    await store.close()


async def test_a_foreign_key_violation_is_refused(tmp_path):
    store = await Store.open(tmp_path / "heph.db")
    with pytest.raises(sqlite3.IntegrityError):
        async with store.transaction() as db:
            await db.execute(
                "INSERT INTO tasks (id, run_id, phase, title, description, status, created_by,"
                " created_at, updated_at) VALUES ('t1', 'nope', 1, 't', 'd', 'queued', 'u', 0, 0)"
            )
    await store.close()


async def test_merge_outcomes_stored_before_the_merge_queue_survive_its_migration(
    tmp_path, monkeypatch
):
    path = tmp_path / "heph.db"
    before = MIGRATIONS[: [name for name, _ in MIGRATIONS].index("merge_queue_states")]
    monkeypatch.setattr("heph_mcp.store.MIGRATIONS", before)
    store = await Store.open(path)
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO runs (id, workflow_name, workflow, goal, status, max_agents, created_by,"
            " created_at, updated_at) VALUES ('r1', 'w', '{}', 'g', 'active', 1, 'u', 0, 0)"
        )
        await db.execute(
            "INSERT INTO tasks (id, run_id, phase, title, description, status, created_by,"
            " created_at, updated_at, merge_state) VALUES"
            " ('t1', 'r1', 1, 't', 'd', 'done', 'u', 0, 0, 'merged')"
        )
    await store.close()
    monkeypatch.setattr("heph_mcp.store.MIGRATIONS", MIGRATIONS)
    store = await Store.open(path)
    kept = await store.fetchone("SELECT merge_state FROM tasks WHERE id = 't1'")
    async with store.transaction() as db:
        await db.execute("UPDATE tasks SET merge_state = 'verify_failed' WHERE id = 't1'")
    with pytest.raises(sqlite3.IntegrityError):
        async with store.transaction() as db:
            await db.execute("UPDATE tasks SET merge_state = 'lost' WHERE id = 't1'")
    assert kept[0] == "merged" and await store.integrity_check() == "ok"
    await store.close()
