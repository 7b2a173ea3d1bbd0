"""Qdrant as a vector index, embedded (one owner process) or a server, one code path.

SQLite holds the truth (memory texts, tasks); Qdrant only indexes them, so a
model change is repaired by re-embedding from SQLite (`heph memory reindex`).
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
from qdrant_client.local.async_qdrant_local import AsyncQdrantLocal

ID_NAMESPACE = uuid.UUID("6f1c6c58-4c2b-4c4e-9a57-0d3f3c1b5e21")


class IndexMismatch(RuntimeError):
    """The collection was built with another model or dimension."""


class IndexLocked(RuntimeError):
    """Another process owns the embedded Qdrant folder."""


class IndexUnreachable(RuntimeError):
    """The configured Qdrant server is down or refuses us."""


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


def point_id(key: str) -> str:
    """Qdrant wants UUIDs or integers; ours are short strings, mapped stably."""
    return str(uuid.uuid5(ID_NAMESPACE, key))


def open_qdrant(path: Path | None, url: str | None, api_key: str | None) -> AsyncQdrantClient:
    if url:
        return AsyncQdrantClient(url=url, api_key=api_key)
    assert path is not None
    path.mkdir(parents=True, exist_ok=True)
    try:
        return AsyncQdrantClient(path=str(path))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise IndexLocked(
                f"Qdrant folder {path} is locked by another process (is another `heph serve` "
                "running for this project?): stop it, or set HEPH_QDRANT_URL to a Qdrant server"
            ) from None
        raise


async def check_reachable(client: AsyncQdrantClient, url: str | None) -> None:
    """A Qdrant server that is down or refuses the key fails here, with the fix, rather
    than as a traceback out of the server's start-up."""
    if url is None:
        return
    try:
        await client.get_collections()
    except (ResponseHandlingException, UnexpectedResponse) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IndexUnreachable(
            f"cannot use the Qdrant server at {url} ({reason}): start it, check"
            " HEPH_QDRANT_API_KEY, or drop --qdrant-url / HEPH_QDRANT_URL to keep the index"
            " embedded in .hephaestus/qdrant"
        ) from None


def _embedded(client: AsyncQdrantClient) -> AsyncQdrantLocal | None:
    """The embedded engine behind the client (None for a server): the one place that looks
    past qdrant-client's public surface."""
    inner = getattr(client, "_client", None)
    return inner if isinstance(inner, AsyncQdrantLocal) else None


def local_storage(client: AsyncQdrantClient, collection: str) -> sqlite3.Connection | None:
    """The SQLite file embedded Qdrant keeps a collection's points in (None for a server)."""
    collections = getattr(_embedded(client), "collections", None)
    found = collections.get(collection) if isinstance(collections, dict) else None
    connection = getattr(getattr(found, "storage", None), "storage", None)
    return connection if isinstance(connection, sqlite3.Connection) else None


def relax_local_sync(client: AsyncQdrantClient, collection: str) -> None:
    """Embedded Qdrant commits every point on its own, each commit a disk sync: an upsert of
    16 memories cost 16 syncs, more than searching for their duplicates. Its file gets the
    durability of our own database instead (WAL, synchronous=NORMAL): nothing is lost when
    the process dies, and SQLite stays the source `heph memory reindex` rebuilds from."""
    connection = local_storage(client, collection)
    if connection is not None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")


class VectorIndex:
    """One collection; its model name is recorded beside it so a change is caught."""

    def __init__(self, client: AsyncQdrantClient, collection: str):
        self.client = client
        self.collection = collection

    async def ensure(self, dim: int, model: str) -> None:
        if not await self.client.collection_exists(self.collection):
            await self.client.create_collection(
                self.collection,
                # Both embedders return unit vectors, so a dot product is their cosine; and
                # embedded Qdrant's cosine re-normalises every stored vector at every query.
                vectors_config=models.VectorParams(size=dim, distance=models.Distance.DOT),
                metadata={"model": model},
            )
        else:
            _require_same(
                self.collection, await self.client.get_collection(self.collection), model, dim
            )
        relax_local_sync(self.client, self.collection)

    async def check_model(self, model: str) -> None:
        """Cheap start-up check (no model load): the collection was built with `model`."""
        if await self.client.collection_exists(self.collection):
            _require_same(
                self.collection, await self.client.get_collection(self.collection), model, None
            )

    async def upsert(self, keys: list[str], vectors: np.ndarray, payloads: list[dict]) -> None:
        points = [
            models.PointStruct(id=point_id(k), vector=v.tolist(), payload={**p, "key": k})
            for k, v, p in zip(keys, vectors, payloads, strict=True)
        ]
        await self.client.upsert(self.collection, points=points, wait=True)

    async def search(
        self, vector: np.ndarray, must: dict[str, Any], limit: int, threshold: float | None = None
    ) -> list[Hit]:
        response = await self.client.query_points(
            self.collection,
            query=self._nearest(vector),
            query_filter=_filter(must),
            limit=limit,
            score_threshold=threshold,
            with_payload=True,
        )
        return _hits(response)

    async def search_each(
        self, vectors: np.ndarray, limit: int, threshold: float | None = None
    ) -> list[list[Hit]]:
        """The best hits of every vector, in one request (one round trip to a server)."""
        requests = [
            models.QueryRequest.model_construct(
                query=self._nearest(vector),
                limit=limit,
                score_threshold=threshold,
                with_payload=True,
            )
            for vector in vectors
        ]
        responses = await self.client.query_batch_points(self.collection, requests=requests)
        return [_hits(response) for response in responses]

    def _nearest(self, vector: np.ndarray) -> Any:
        """Embedded Qdrant scores numpy arrays natively, but deep-copies every query first:
        a list of 384 floats took about 0.25 ms to copy, an array microseconds. A server
        needs the query as JSON, a list the client makes from the array."""
        if _embedded(self.client) is not None:
            return models.NearestQuery.model_construct(nearest=vector)
        return vector


def _hits(response: models.QueryResponse) -> list[Hit]:
    return [
        Hit(p.payload["key"], float(p.score), dict(p.payload)) for p in response.points if p.payload
    ]


def _filter(must: dict[str, Any]) -> models.Filter | None:
    conditions: list[Any] = []
    for field, value in must.items():
        match = (
            models.MatchAny(any=value)
            if isinstance(value, list)
            else models.MatchValue(value=value)
        )
        conditions.append(models.FieldCondition(key=field, match=match))
    return models.Filter(must=conditions) if conditions else None


def _require_same(
    collection: str, info: models.CollectionInfo, model: str, dim: int | None
) -> None:
    have_model = (info.config.metadata or {}).get("model")
    have_dim = _vector_size(info)
    if have_model != model or (dim is not None and have_dim != dim):
        wanted = f"{model!r}" + (f" ({dim} dims)" if dim is not None else "")
        raise IndexMismatch(
            f"collection {collection!r} was built with model {have_model!r} ({have_dim} dims)"
            f" but the configured model is {wanted}: run `heph memory reindex` to rebuild it"
        )


def _vector_size(info: models.CollectionInfo) -> int | None:
    vectors = info.config.params.vectors
    return vectors.size if isinstance(vectors, models.VectorParams) else None


class ScopedIndex:
    """One collection per scope (a run, or the project).

    Scoped search then needs no payload filter, which embedded Qdrant evaluates
    point by point in Python: measured 172 ms for a filtered search over 20k
    points against 21 ms unfiltered. A Qdrant server indexes payloads, but one
    layout for both keeps a single code path.
    """

    def __init__(self, client: AsyncQdrantClient, prefix: str):
        self.client = client
        self.prefix = prefix
        self._ready: set[str] = set()
        self._dim: int | None = None
        self._model = ""

    async def setup(self, dim: int, model: str) -> None:
        """Check every existing collection of this kind against the configured model."""
        self._dim, self._model = dim, model
        for name in await self.names():
            await VectorIndex(self.client, name).ensure(dim, model)
            self._ready.add(name)

    async def names(self) -> list[str]:
        response = await self.client.get_collections()
        return sorted(c.name for c in response.collections if c.name.startswith(self.prefix))

    async def check_model(self, model: str) -> None:
        for name in await self.names():
            await VectorIndex(self.client, name).check_model(model)

    async def drop_all(self) -> None:
        for name in await self.names():
            await self.client.delete_collection(name)
        self._ready.clear()

    async def upsert(
        self, scope: str, keys: list[str], vectors: np.ndarray, payloads: list[dict]
    ) -> None:
        await (await self._index(scope)).upsert(keys, vectors, payloads)

    async def search(
        self,
        scopes: list[str] | None,
        vector: np.ndarray,
        limit: int,
        threshold: float | None = None,
        must: dict[str, Any] | None = None,
    ) -> list[Hit]:
        """Best hits across the given scopes (all of them when None), best first."""
        names = await self.names() if scopes is None else [self.prefix + s for s in scopes]
        hits: list[Hit] = []
        # This process is the only writer: setup() saw every existing collection and
        # _index() records each new one, so a scope not in _ready has no memories.
        for name in names:
            if name in self._ready:
                hits += await VectorIndex(self.client, name).search(
                    vector, must or {}, limit, threshold
                )
        return sorted(hits, key=lambda h: h.score, reverse=True)[:limit]

    async def search_each(
        self, scope: str, vectors: np.ndarray, limit: int, threshold: float | None = None
    ) -> list[list[Hit]]:
        """Every vector's best hits in one scope, in one request."""
        name = self.prefix + scope
        if name not in self._ready:
            return [[] for _ in vectors]
        return await VectorIndex(self.client, name).search_each(vectors, limit, threshold)

    async def _index(self, scope: str) -> VectorIndex:
        index = VectorIndex(self.client, self.prefix + scope)
        if index.collection not in self._ready:
            assert self._dim is not None, "setup() must run before the first write"
            await index.ensure(self._dim, self._model)
            self._ready.add(index.collection)
        return index
