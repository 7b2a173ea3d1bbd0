"""SQLite through aiosqlite: one writer connection, one reader, WAL.

Writes go through `transaction()`, which serialises writers with an asyncio
lock and uses BEGIN IMMEDIATE so the write lock is taken up front (no
upgrade deadlocks) and every multi-row change commits or rolls back whole.
Reads use a second connection so they never queue behind a write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from heph_mcp.migrations import MIGRATIONS

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode survives a killed process; only power loss can drop
    # the last commits, which is the usual trade for a local control plane.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


class Store:
    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()
        # Bumped at every commit: a free "something changed" signal for live views
        # (the board's event stream), which then reread through the services.
        self.changes = 0

    @classmethod
    async def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(path)
        reader = await _connect(path)
        store = cls(path, writer, reader)
        await store.migrate()
        return store

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    async def migrate(self) -> list[str]:
        """Apply pending migrations in order; returns the names applied."""
        async with self.transaction() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            cursor = await db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            current = (await cursor.fetchone())[0]  # type: ignore[index]
            applied = []
            for version, (name, sql) in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                for statement in _statements(sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, time.time())
                )
                applied.append(name)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.rollback()
                raise
            await self._writer.commit()
            self.changes += 1

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        # One call on the reader's thread: a cursor left open between execute and
        # fetch would hold a read snapshot that concurrent reads then share, so a
        # caller could miss a row its own write just committed.
        return list(await self._reader.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def integrity_check(self) -> str:
        row = await self.fetchone("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"


async def query_all(
    db: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> list[aiosqlite.Row]:
    """Query inside a transaction in one hop to the connection's thread (not two)."""
    return list(await db.execute_fetchall(sql, tuple(params)))


async def query_one(
    db: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> aiosqlite.Row | None:
    found = await query_all(db, sql, params)
    return found[0] if found else None


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN ourselves, so sqlite3 never opens
    # an implicit transaction behind our back.
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    return conn


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
