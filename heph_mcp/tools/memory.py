"""Memory tools: save what you learned, find what others learned."""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated

from fastmcp import Context, FastMCP
from pydantic import BaseModel, Field

from heph_mcp.identity import current_principal
from heph_mcp.services.memories import MemoryHit, MemoryType, SavedMemory
from heph_mcp.tools.common import ADDITIVE, ID_MAX, READ_ONLY, Limits, roles, services


class MemoryHits(BaseModel):
    hits: list[MemoryHit] = Field(description="Best first; score is cosine similarity 0..1")


def register(mcp: FastMCP, limits: Limits) -> None:
    short = Annotated[str, Field(min_length=1, max_length=200)]

    @mcp.tool(auth=roles("user", "agent"), annotations=ADDITIVE)
    async def save_memory(
        ctx: Context,
        content: Annotated[
            str,
            Field(
                min_length=1,
                max_length=limits.text,
                description="One self-contained fact, decision or fix",
            ),
        ],
        type: MemoryType,
        tags: Annotated[list[short], Field(max_length=limits.list_items)] = [],  # noqa: B006
        files: Annotated[
            list[short],
            Field(max_length=limits.list_items, description="Paths the memory is about"),
        ] = [],  # noqa: B006
        run: Annotated[
            str | None,
            Field(
                max_length=ID_MAX,
                description=(
                    "User role: the run, or omit for a project-wide memory. Agents omit it."
                ),
            ),
        ] = None,
    ) -> SavedMemory:
        """Save something other agents should know: a discovery, decision, fix or warning.

        Write it so it stands alone (what, where, why). A near-identical memory is
        merged with the existing one instead of stored twice.
        """
        return await services(ctx).memories.save(
            current_principal(), content, type, tags, files, run=run
        )

    @mcp.tool(auth=roles("user", "agent"), annotations=READ_ONLY)
    async def find_memories(
        ctx: Context,
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=limits.text,
                description="What you want to know, in plain words",
            ),
        ],
        type: MemoryType | None = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 5,
        all_runs: bool = False,
        run: Annotated[
            str | None, Field(max_length=ID_MAX, description="User role: one run's memories")
        ] = None,
    ) -> MemoryHits:
        """Search the shared memory by meaning before you dig: others may have found it.

        Searches your run (and project-wide notes) unless all_runs is true.
        """
        hits = await services(ctx).memories.find(
            current_principal(), query, type=type, limit=limit, all_runs=all_runs, run=run
        )
        return MemoryHits(hits=hits)
