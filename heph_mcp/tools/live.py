"""The live view's tools: launchers report pane tails and diff stats (ops); the user reads
one task in detail and one agent's pane (what `heph status --task/--agent` show)."""

# No `from __future__ import annotations`: fastmcp reads these signatures at registration.

from typing import Annotated

from fastmcp import Context, FastMCP
from pydantic import Field

from heph_mcp.identity import current_principal
from heph_mcp.live_records import AgentOutput, DiffStatReport, LiveReported, TailReport, TaskDetail
from heph_mcp.services.task_detail import task_detail
from heph_mcp.tools.common import ID_MAX, IDEMPOTENT_WRITE, READ_ONLY, roles, services

Id = Annotated[str, Field(min_length=1, max_length=ID_MAX)]
BATCH = 256


def register(mcp: FastMCP) -> None:
    @mcp.tool(auth=roles("ops"), annotations=IDEMPOTENT_WRITE)
    async def report_live_view(
        ctx: Context,
        tails: Annotated[
            list[TailReport], Field(max_length=BATCH, description="Changed pane tails")
        ] = [],  # noqa: B006 - fastmcp copies defaults per call
        diffstats: Annotated[
            list[DiffStatReport], Field(max_length=BATCH, description="Branches' diff stats")
        ] = [],  # noqa: B006
    ) -> LiveReported:
        """Report what running agents' panes show now and how their branches differ from
        heph/<run>; the board streams the tails, the task detail shows the diff stat."""
        return await services(ctx).live.report(current_principal(), tails, diffstats)

    @mcp.tool(auth=roles("user"), annotations=READ_ONLY)
    async def get_task_detail(ctx: Context, task_id: Id) -> TaskDetail:
        """One task in full: description, brief, summary, failure reason, guidance its agents
        received, merge outcome and the diff stat of its branch against heph/<run>."""
        return await task_detail(services(ctx), current_principal(), task_id)

    @mcp.tool(auth=roles("user"), annotations=READ_ONLY)
    async def get_agent_output(ctx: Context, agent_id: Id) -> AgentOutput:
        """The end of a running agent's pane (escape sequences stripped), as its launcher last
        reported it; read-only."""
        return await services(ctx).live.agent_output(agent_id)
