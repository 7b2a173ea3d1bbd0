"""Semantic memory parts: the embedder and the Qdrant collections, opened together.

The server owns them (one process may open an embedded Qdrant folder); tests
share one loaded model across many servers by passing `embedder`.
"""

from __future__ import annotations

from dataclasses import dataclass

from qdrant_client import AsyncQdrantClient

from heph_mcp.memory.embedder import Embedder, make_embedder
from heph_mcp.memory.vectors import VectorIndex, open_qdrant
from heph_mcp.settings import Settings

MEMORIES = "heph_memories"
TASKS = "heph_tasks"


@dataclass
class Memory:
    embedder: Embedder
    client: AsyncQdrantClient
    memories: VectorIndex
    tasks: VectorIndex
    owns_embedder: bool = True

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Memory:
        client = open_qdrant(
            settings.qdrant_path,
            settings.qdrant_url,
            settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None,
        )
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
            VectorIndex(client, MEMORIES),
            VectorIndex(client, TASKS),
            owns_embedder=owns,
        )

    async def ensure_collections(self) -> None:
        """Create collections on first use; refuse to run on an index of another model."""
        dim = await self.embedder.dimension()
        for index in (self.memories, self.tasks):
            await index.ensure(dim, self.embedder.model_name)

    async def close(self) -> None:
        await self.client.close()
        if self.owns_embedder:
            self.embedder.close()
