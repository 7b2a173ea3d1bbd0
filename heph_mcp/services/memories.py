"""Shared memory: agents save what they learn and find what others learned.

SQLite keeps the text; Qdrant indexes it. A memory belongs to a run (its
scope) or to the whole project (saved by the user without a run); agents see
their run's memories and the project's. A save whose text is nearly the same
as an existing memory in the same scope is merged into it, not stored twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, cast

import aiosqlite
import numpy as np
from pydantic import BaseModel, Field

from heph_mcp.errors import Forbidden, InvalidRequest
from heph_mcp.memory import IndexItem, Memory
from heph_mcp.memory.batcher import MicroBatcher
from heph_mcp.records import Principal, iso
from heph_mcp.services.common import new_id, now
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


@dataclass(frozen=True)
class _SaveRequest:
    principal: Principal
    scope: str
    type: str
    content: str
    tags: list[str]
    files: list[str]
    task_id: str | None
    vector: np.ndarray


# Everything encoded together is written together. Writing half while the model encoded
# the other half looked like overlap, but on two cores the write stage's Python stalls
# both of torch's threads and halves the model's batches (bench/memory.py's paths, 16
# agents, five rounds: 0.89 of raw encode throughput in one batch, 0.80 in batches of 8).
SAVE_BATCH = 64


class MemoryService:
    def __init__(self, store: Store, memory: Memory, settings: Settings):
        self._store = store
        self._memory = memory
        self._settings = settings
        # Saves are group-committed: one transaction and one upsert per batch. A
        # single worker runs batches in turn, so a search can never miss a
        # near-identical memory that a concurrent save is still writing.
        self._saves: MicroBatcher[_SaveRequest, list[SavedMemory]] = MicroBatcher(
            self._save_batch, max_batch=SAVE_BATCH
        )

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
        # Refused before encoding: a refused save costs no model time (nor an API call).
        scope = await self._scope_for_save(principal, run)
        vector = (await self._memory.embedder.embed([content]))[0]
        request = _SaveRequest(
            principal,
            scope,
            type,
            content,
            tags or [],
            files or [],
            task_id or principal.task_id,
            vector,
        )
        return (await self._saves.submit([request]))[0]

    async def _save_batch(self, requests: list[_SaveRequest]) -> list[SavedMemory]:
        fresh, merges = await self._sort_out(requests)
        async with self._store.transaction() as db:
            await _insert(db, list(fresh.values()))
            for i, (memory_id, _) in merges.items():
                await _merge(db, memory_id, requests[i].tags, requests[i].files)
        await self._upsert([(record, requests[i].vector) for i, record in fresh.items()])
        merged = await self._records([memory_id for memory_id, _ in merges.values()])
        results = {i: SavedMemory(memory=record, merged=False) for i, record in fresh.items()}
        for i, (memory_id, score) in merges.items():
            similarity = round(score, 4)
            results[i] = SavedMemory(memory=merged[memory_id], merged=True, similarity=similarity)
        return [results[i] for i in range(len(requests))]

    async def _sort_out(
        self, requests: list[_SaveRequest]
    ) -> tuple[dict[int, MemoryRecord], dict[int, tuple[str, float]]]:
        """Which requests become new memories, and which merge into which (id, similarity):
        the most similar near-identical memory of the scope, stored or new in this batch."""
        threshold = self._settings.memory_merge_threshold
        stored = await self._stored_twins(requests, threshold)
        vectors = np.stack([request.vector for request in requests])
        similar = vectors @ vectors.T  # unit vectors: every pair's cosine at once
        fresh: dict[int, MemoryRecord] = {}
        merges: dict[int, tuple[str, float]] = {}
        for i, request in enumerate(requests):
            found = [stored[i], _twin_in_batch(requests, fresh, i, similar[i], threshold)]
            twin = max((t for t in found if t), key=lambda t: t[1], default=None)
            if twin is None:
                fresh[i] = _new_record(request)
            else:
                merges[i] = twin
        return fresh, merges

    async def _stored_twins(
        self, requests: list[_SaveRequest], threshold: float
    ) -> list[tuple[str, float] | None]:
        """Each request's near-identical stored memory, if any: one search request per scope."""
        twins: list[tuple[str, float] | None] = [None] * len(requests)
        for scope in {request.scope for request in requests}:
            mine = [i for i, request in enumerate(requests) if request.scope == scope]
            found = await self._memory.memories.search_each(
                scope, np.stack([requests[i].vector for i in mine]), limit=1, threshold=threshold
            )
            for i, hits in zip(mine, found, strict=True):
                twins[i] = (hits[0].id, hits[0].score) if hits else None
        return twins

    async def _upsert(self, fresh: list[tuple[MemoryRecord, np.ndarray]]) -> None:
        for scope in {record.scope for record, _ in fresh}:
            mine = [(record, vector) for record, vector in fresh if record.scope == scope]
            await self._memory.memories.upsert(
                scope,
                [record.id for record, _ in mine],
                np.stack([vector for _, vector in mine]),
                [{"type": record.type} for record, _ in mine],
            )

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

    async def _records(self, ids: list[str]) -> dict[str, MemoryRecord]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self._store.fetchall(f"SELECT * FROM memories WHERE id IN ({marks})", ids)
        return {r["id"]: MemoryRecord.from_row(r) for r in rows}


async def _insert(db: aiosqlite.Connection, records: list[MemoryRecord]) -> None:
    if not records:
        return
    ts = now()
    await db.executemany(
        "INSERT INTO memories (id, scope, type, content, tags, files, created_by, task_id,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.id,
                r.scope,
                r.type,
                r.content,
                json.dumps(r.tags),
                json.dumps(r.files),
                r.created_by,
                r.task_id,
                ts,
                ts,
            )
            for r in records
        ],
    )
    await db.executemany(
        "INSERT INTO events (run_id, task_id, actor, kind, detail, at)"
        " VALUES (?, NULL, ?, 'memory_saved', ?, ?)",
        [
            (
                None if r.scope == PROJECT else r.scope,
                r.created_by,
                json.dumps({"memory": r.id, "type": r.type}),
                ts,
            )
            for r in records
        ],
    )


async def _merge(
    db: aiosqlite.Connection, memory_id: str, tags: list[str], files: list[str]
) -> None:
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


def _new_record(request: _SaveRequest) -> MemoryRecord:
    return MemoryRecord(
        id=new_id("m"),
        scope=request.scope,
        type=cast(MemoryType, request.type),
        content=request.content,
        tags=request.tags,
        files=request.files,
        created_by=request.principal.id,
        task_id=request.task_id,
        merged_count=0,
        created_at=iso(now()),
    )


def _twin_in_batch(
    requests: list[_SaveRequest],
    fresh: dict[int, MemoryRecord],
    i: int,
    scores: np.ndarray,
    threshold: float,
) -> tuple[str, float] | None:
    """The most similar near-identical memory new in this batch (not yet in Qdrant)."""
    scope = requests[i].scope
    same = [j for j in fresh if requests[j].scope == scope and scores[j] >= threshold]
    best = max(same, key=lambda j: scores[j], default=None)
    return None if best is None else (fresh[best].id, float(scores[best]))


def _union(old: list[str], new: list[str]) -> list[str]:
    return old + [item for item in new if item not in old]
