"""Hybrid ticket search: meaning through the memory embedder, words through SQLite FTS5.

Each finds what the other misses: an exact error code or identifier is a
keyword match the embedder blurs, a paraphrase ("users get logged out") is a
semantic match that shares no word with the ticket. The two rankings are fused
by reciprocal rank (Cormack et al., 2009), which needs no score calibration
between bm25 and cosine similarity.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

from heph_mcp.memory import IndexItem, Memory
from heph_mcp.store import Store

RRF_K = 60  # the conventional constant: damps the weight of the very first ranks
CANDIDATES = 50  # per ranking, before fusion
STOPWORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "is"}
    | {"it", "of", "on", "or", "that", "the", "this", "to", "was", "were", "with"}
)


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse rankings (best first) into one: score(d) = sum over rankings of 1 / (k + rank).

    Ties keep the order in which ids were first seen, so the result is deterministic.
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    order = {key: i for i, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any word of `text`; each word quoted, so no syntax leaks in.

    A word like `ERR_DISK_FULL` stays one quoted phrase, which FTS5 matches as
    its tokens in sequence: an exact code outranks documents with one part of it.
    """
    words = [w for w in text.split() if w.lower().strip("\"'.,;:!?()") not in STOPWORDS]
    phrases = ['"' + w.replace('"', '""') + '"' for w in words if re.search(r"\w", w)]
    return " OR ".join(phrases) or None


def ticket_text(title: str, description: str, tags: list[str]) -> str:
    return "\n".join([title, description, " ".join(tags)]).strip()


@dataclass(frozen=True)
class Ranked:
    id: str
    score: float
    keyword_rank: int | None
    semantic_rank: int | None


class TicketSearch:
    """Keeps both indexes of a ticket current and answers hybrid queries within one run."""

    def __init__(self, store: Store, memory: Memory | None):
        self._store = store
        self._memory = memory

    @staticmethod
    async def index_words(
        db: aiosqlite.Connection, ticket_id: str, run_id: str, title: str, body: str
    ) -> None:
        """Replace the ticket's FTS row; called inside the transaction that changed it."""
        await db.execute("DELETE FROM tickets_fts WHERE ticket_id = ?", (ticket_id,))
        await db.execute(
            "INSERT INTO tickets_fts (ticket_id, run_id, title, body) VALUES (?, ?, ?, ?)",
            (ticket_id, run_id, title, body),
        )

    async def index_meaning(self, ticket_id: str, run_id: str, text: str) -> None:
        if self._memory is None:
            return
        vector = (await self._memory.embedder.embed([text]))[0]
        await self._memory.tickets.upsert(run_id, [ticket_id], vector[None, :], [{}])

    async def search(self, run_id: str, query: str, limit: int) -> list[Ranked]:
        keyword = await self._keyword(run_id, query)
        semantic = await self._semantic(run_id, query)
        fused = reciprocal_rank_fusion([keyword, semantic])[:limit]
        return [
            Ranked(
                key,
                round(score, 6),
                keyword.index(key) + 1 if key in keyword else None,
                semantic.index(key) + 1 if key in semantic else None,
            )
            for key, score in fused
        ]

    async def _keyword(self, run_id: str, query: str) -> list[str]:
        match = fts_query(query)
        if match is None:
            return []
        rows = await self._store.fetchall(
            "SELECT ticket_id FROM tickets_fts WHERE tickets_fts MATCH ? AND run_id = ?"
            " ORDER BY bm25(tickets_fts, 0, 0, 2.0, 1.0) LIMIT ?",
            (match, run_id, CANDIDATES),
        )
        return [r["ticket_id"] for r in rows]

    async def _semantic(self, run_id: str, query: str) -> list[str]:
        if self._memory is None:
            return []
        vector = (await self._memory.embedder.embed([query]))[0]
        hits = await self._memory.tickets.search([run_id], vector, limit=CANDIDATES)
        return [h.id for h in hits]

    async def reindex(self, progress: Callable[[int], object] | None = None) -> int:
        """Re-embed every ticket (after a model change); FTS lives in SQLite and needs none."""
        assert self._memory is not None
        rows = await self._store.fetchall(
            "SELECT id, run_id, title, description, tags FROM tickets"
        )
        items = [
            IndexItem(
                r["run_id"],
                r["id"],
                ticket_text(r["title"], r["description"], json.loads(r["tags"])),
                {},
            )
            for r in rows
        ]
        return await self._memory.rebuild(self._memory.tickets, items, progress)
