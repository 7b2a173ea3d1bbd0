"""Semantic memory parts: the embedder and the Qdrant collections, opened together.

The server owns them (one process may open an embedded Qdrant folder); tests
share one loaded model across many servers by passing `embedder`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qdrant_client import AsyncQdrantClient

from heph_mcp.memory.embedder import Embedder, make_embedder
from heph_mcp.memory.vectors import ScopedIndex, open_qdrant
from heph_mcp.settings import Settings

MEMORIES = "heph_mem_"  # one collection per scope: heph_mem_<run> or heph_mem_project
TASKS = "heph_tasks_"  # one per run
TICKETS = "heph_tickets_"  # one per run, for hybrid ticket search


def qdrant_client_for(settings: Settings) -> AsyncQdrantClient:
    """The configured Qdrant: the server at `qdrant_url` with its key, else the embedded one."""
    key = settings.qdrant_api_key
    return open_qdrant(
        settings.qdrant_path, settings.qdrant_url, key.get_secret_value() if key else None
    )


@dataclass(frozen=True)
class IndexItem:
    scope: str
    key: str
    text: str
    payload: dict[str, Any]


@dataclass
class Memory:
    embedder: Embedder
    client: AsyncQdrantClient
    memories: ScopedIndex
    tasks: ScopedIndex
    tickets: ScopedIndex
    owns_embedder: bool = True

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Memory:
        client = qdrant_client_for(settings)
        owns = embedder is None
        if embedder is None:
            key = settings.embedding_api_key
            embedder = make_embedder(
                settings.embedding_provider,
                settings.embedding_model,
                settings.embedding_base_url,
                key.get_secret_value() if key else None,
            )
        return cls(
            embedder,
            client,
            ScopedIndex(client, MEMORIES),
            ScopedIndex(client, TASKS),
            ScopedIndex(client, TICKETS),
            owns_embedder=owns,
        )

    async def ensure_collections(self) -> None:
        """Create collections on first use; refuse to run on an index of another model."""
        dim = await self.embedder.dimension()
        for index in (self.memories, self.tasks, self.tickets):
            await index.setup(dim, self.embedder.model_name)

    async def rebuild(
        self,
        index: ScopedIndex,
        items: list[IndexItem],
        progress: Callable[[int], object] | None = None,
    ) -> int:
        """Drop every collection of `index` and re-embed `items` into fresh ones."""
        await index.drop_all()
        await index.setup(await self.embedder.dimension(), self.embedder.model_name)
        for start in range(0, len(items), 64):
            chunk = items[start : start + 64]
            vectors = await self.embedder.embed([item.text for item in chunk])
            for offset, item in enumerate(chunk):
                await index.upsert(
                    item.scope, [item.key], vectors[offset : offset + 1], [item.payload]
                )
            if progress is not None:
                progress(len(chunk))
        return len(items)

    async def close(self) -> None:
        await self.client.close()
        if self.owns_embedder:
            self.embedder.close()
