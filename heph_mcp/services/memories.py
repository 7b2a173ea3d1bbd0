"""Shared memory: agents save what they learn and find what others learned.

SQLite keeps the text; Qdrant indexes it. A memory belongs to a run (its
scope) or to the whole project (saved by the user without a run); agents see
their run's memories and the project's. A save whose text is nearly the same
as an existing memory in the same scope is merged into it, not stored twice.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal, cast

from pydantic import BaseModel, Field

from heph_mcp.errors import Forbidden, InvalidRequest
from heph_mcp.memory import IndexItem, Memory
from heph_mcp.records import Principal, iso
from heph_mcp.services.common import new_id, now, record_event
from heph_mcp.settings import Settings
from heph_mcp.store import Store, query_one

MemoryType = Literal[
    "discovery", "decision", "error_fix", "warning", "codebase_knowledge", "learning"
]
PROJECT = "project"


class MemoryRecord(BaseModel):
    id: str
    scope: str = Field(description="The run it belongs to, or 'project'")
    type: MemoryType
    content: str
    tags: list[str]
    files: list[str]
    created_by: str
    task_id: str | None
    merged_count: int
    created_at: str | None

    @classmethod
    def from_row(cls, row: Any) -> MemoryRecord:
        data = dict(row)
        data.update(
            tags=json.loads(data["tags"]),
            files=json.loads(data["files"]),
            created_at=iso(data["created_at"]),
        )
        return cls.model_validate(data)


class SavedMemory(BaseModel):
    memory: MemoryRecord
    merged: bool = Field(description="True when merged into an existing near-identical memory")
    similarity: float | None = None


class MemoryHit(BaseModel):
    score: float
    memory: MemoryRecord


class MemoryService:
    def __init__(self, store: Store, memory: Memory, settings: Settings):
        self._store = store
        self._memory = memory
        self._settings = settings
        # Search-then-insert must not interleave, or two identical saves both insert.
        self._lock = asyncio.Lock()

    async def save(
        self,
        principal: Principal,
        content: str,
        type: str,
        tags: list[str] | None = None,
        files: list[str] | None = None,
        run: str | None = None,
        task_id: str | None = None,
    ) -> SavedMemory:
        if not content.strip():
            raise InvalidRequest("content must not be blank")
        scope = await self._scope_for_save(principal, run)
        vector = (await self._memory.embedder.embed([content]))[0]
        async with self._lock:
            hits = await self._memory.memories.search(
                [scope], vector, limit=1, threshold=self._settings.memory_merge_threshold
            )
            if hits:
                merged = await self._merge(hits[0].id, tags or [], files or [])
                return SavedMemory(memory=merged, merged=True, similarity=hits[0].score)
            record = await self._insert(
                principal,
                scope,
                type,
                content,
                tags or [],
                files or [],
                task_id or principal.task_id,
            )
            await self._memory.memories.upsert(
                scope, [record.id], vector[None, :], [{"type": type}]
            )
        return SavedMemory(memory=record, merged=False)

    async def find(
        self,
        principal: Principal,
        query: str,
        type: str | None = None,
        limit: int = 5,
        all_runs: bool = False,
        run: str | None = None,
    ) -> list[MemoryHit]:
        if not query.strip():
            raise InvalidRequest("query must not be blank")
        scopes = self._scopes_for_find(principal, all_runs, run)
        must = {"type": type} if type is not None else None
        vector = (await self._memory.embedder.embed([query]))[0]
        hits = await self._memory.memories.search(scopes, vector, limit=limit, must=must)
        records = await self._records([h.id for h in hits])
        return [MemoryHit(score=h.score, memory=records[h.id]) for h in hits if h.id in records]

    async def for_brief(self, run_id: str, text: str, budget_chars: int) -> list[MemoryHit]:
        """The run's most relevant memories, whole, until the size budget is spent."""
        if budget_chars <= 0:
            return []
        vector = (await self._memory.embedder.embed([text]))[0]
        hits = await self._memory.memories.search([run_id, PROJECT], vector, limit=20)
        records = await self._records([h.id for h in hits])
        chosen, spent = [], 0
        for hit in hits:
            record = records.get(hit.id)
            if record is None or spent + len(record.content) > budget_chars:
                continue
            chosen.append(MemoryHit(score=hit.score, memory=record))
            spent += len(record.content)
        return chosen

    async def reindex(self, progress: Any = None) -> int:
        """Re-embed every memory from SQLite into fresh collections; returns the count."""
        rows = await self._store.fetchall("SELECT id, scope, type, content FROM memories")
        items = [IndexItem(r["scope"], r["id"], r["content"], {"type": r["type"]}) for r in rows]
        return await self._memory.rebuild(self._memory.memories, items, progress)

    async def _scope_for_save(self, principal: Principal, run: str | None) -> str:
        if principal.role == "agent":
            if run not in (None, principal.run_id):
                raise Forbidden(f"agents save memories only in their own run ({principal.run_id})")
            return principal.run_id  # type: ignore[return-value]
        if run is None:
            return PROJECT
        if await self._store.fetchone("SELECT 1 FROM runs WHERE id = ?", (run,)) is None:
            raise InvalidRequest(f"no run {run!r}; workflow_status lists the runs")
        return run

    @staticmethod
    def _scopes_for_find(principal: Principal, all_runs: bool, run: str | None) -> list[str] | None:
        if principal.role == "agent":
            if run not in (None, principal.run_id):
                raise Forbidden("agents search their own run; pass all_runs=true for every run")
            return None if all_runs else [principal.run_id or PROJECT, PROJECT]
        return [run, PROJECT] if run and not all_runs else None

    async def _insert(
        self,
        principal: Principal,
        scope: str,
        type: str,
        content: str,
        tags: list[str],
        files: list[str],
        task_id: str | None,
    ) -> MemoryRecord:
        memory_id, ts = new_id("m"), now()
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO memories (id, scope, type, content, tags, files, created_by, task_id,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    memory_id,
                    scope,
                    type,
                    content,
                    json.dumps(tags),
                    json.dumps(files),
                    principal.id,
                    task_id,
                    ts,
                    ts,
                ),
            )
            await record_event(
                db,
                principal.id,
                "memory_saved",
                memory=memory_id,
                type=type,
                run_id=None if scope == PROJECT else scope,
            )
        return MemoryRecord(
            id=memory_id,
            scope=scope,
            type=cast(MemoryType, type),
            content=content,
            tags=tags,
            files=files,
            created_by=principal.id,
            task_id=task_id,
            merged_count=0,
            created_at=iso(ts),
        )

    async def _merge(self, memory_id: str, tags: list[str], files: list[str]) -> MemoryRecord:
        async with self._store.transaction() as db:
            old = await query_one(db, "SELECT tags, files FROM memories WHERE id = ?", (memory_id,))
            assert old is not None, memory_id
            await db.execute(
                "UPDATE memories SET tags = ?, files = ?, merged_count = merged_count + 1,"
                " updated_at = ? WHERE id = ?",
                (
                    json.dumps(_union(json.loads(old["tags"]), tags)),
                    json.dumps(_union(json.loads(old["files"]), files)),
                    now(),
                    memory_id,
                ),
            )
        return (await self._records([memory_id]))[memory_id]

    async def _records(self, ids: list[str]) -> dict[str, MemoryRecord]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self._store.fetchall(f"SELECT * FROM memories WHERE id IN ({marks})", ids)
        return {r["id"]: MemoryRecord.from_row(r) for r in rows}


def _union(old: list[str], new: list[str]) -> list[str]:
    return old + [item for item in new if item not in old]
