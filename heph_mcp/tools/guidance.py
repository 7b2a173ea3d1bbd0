"""Guidance: the Guardian records analyses and steers; agents receive what is pending.

Pending guidance reaches an agent two ways: the `guidance` prompt (Claude Code's
`/mcp__hephaestus__guidance`, typed into its pane by the Guardian) and, for
CLIs without prompt commands, a text block appended to its next tool result.
"""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated

from fastmcp import Context, FastMCP
from fastmcp.exceptions import PromptError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from mcp.types import CallToolRequestParams, TextContent
from pydantic import BaseModel, Field

from heph_mcp.identity import current_principal
from heph_mcp.records import Task
from heph_mcp.resources import domain_errors
from heph_mcp.services.conductor import Overlap
from heph_mcp.services.guidance import AgentState, Analysis, AnalysisRecorded, Guidance, Severity
from heph_mcp.tools.common import ADDITIVE, DESTRUCTIVE, ID_MAX, READ_ONLY, roles, services

NOTHING_PENDING = "No new guidance from Hephaestus. Carry on with your task."


def render(items: list[Guidance]) -> str:
    lines = ["Guidance from Hephaestus (read it, then continue your task accordingly):"]
    lines += [f"- [{g.severity}, from {g.source}] {g.text}" for g in items]
    return "\n".join(lines)


def register(mcp: FastMCP) -> None:
    @mcp.tool(auth=roles("ops"), annotations=ADDITIVE)
    async def record_analysis(
        ctx: Context,
        agent_id: Annotated[str, Field(min_length=1, max_length=ID_MAX)],
        judge: Annotated[str, Field(min_length=1, max_length=64)],
        state: AgentState,
        alignment: Annotated[float, Field(ge=0, le=1)],
        summary: Annotated[str, Field(max_length=4000)],
        steering: Annotated[str | None, Field(max_length=4000)] = None,
        severity: Severity = "warning",
        tokens_in: Annotated[int, Field(ge=0)] = 0,
        tokens_out: Annotated[int, Field(ge=0)] = 0,
    ) -> AnalysisRecorded:
        """Store one judgement of an agent; its steering is queued unless rate-limited."""
        analysis = Analysis(
            agent_id=agent_id, judge=judge, state=state, alignment=alignment, summary=summary,
            steering=steering, severity=severity, tokens_in=tokens_in, tokens_out=tokens_out,
        )  # fmt: skip
        return await services(ctx).guidance.record(current_principal(), analysis)

    @mcp.prompt(auth=roles("agent"))
    async def guidance(ctx: Context) -> str:
        """Your pending guidance from Hephaestus (the Guardian, other agents); read once."""
        with domain_errors(PromptError):
            me = current_principal()
            items = await services(ctx).guidance.take(me.id, "prompt")
        return render(items) if items else NOTHING_PENDING


class Overlaps(BaseModel):
    overlaps: list[Overlap]


class Diagnosed(BaseModel):
    created: list[Task]


def register_conductor(mcp: FastMCP) -> None:
    @mcp.tool(auth=roles("ops"), annotations=READ_ONLY)
    async def running_overlaps(ctx: Context) -> Overlaps:
        """Pairs of running tasks in one run that look like the same work (later one second)."""
        return Overlaps(overlaps=await services(ctx).conductor.overlaps())

    @mcp.tool(auth=roles("ops"), annotations=DESTRUCTIVE)
    async def cancel_task(
        ctx: Context,
        task_id: Annotated[str, Field(min_length=1, max_length=ID_MAX)],
        reason: Annotated[str, Field(min_length=1, max_length=4096)],
    ) -> Task:
        """Cancel one open task (e.g. duplicate work); its launcher ends the agent's session."""
        return await services(ctx).conductor.cancel_task(current_principal(), task_id, reason)

    @mcp.tool(auth=roles("ops"), annotations=ADDITIVE)
    async def diagnose_stalled_runs(ctx: Context) -> Diagnosed:
        """Give each active run with nothing open one diagnostic phase-1 task (only once)."""
        created = await services(ctx).conductor.diagnose_stalled(current_principal())
        return Diagnosed(created=created)


class PiggybackGuidance(Middleware):
    """Append an agent's pending guidance to its tool results (CLIs without prompt commands)."""

    async def on_call_tool(
        self,
        context: MiddlewareContext[CallToolRequestParams],
        call_next: CallNext[CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        result = await call_next(context)
        ctx = context.fastmcp_context
        me = current_principal()
        if ctx is None or me.role != "agent":
            return result
        svc = services(ctx).guidance
        # A read first: most calls have nothing pending and must not queue behind writes.
        pending = await svc.take(me.id, "tool_result") if await svc.has_pending(me.id) else []
        if pending:
            result.content = [*result.content, TextContent(type="text", text=render(pending))]
        return result


class Sent(BaseModel):
    recipients: int = Field(description="Agents the message was queued for")


def register_messages(mcp: FastMCP, text_limit: int) -> None:
    Text = Annotated[str, Field(min_length=1, max_length=min(text_limit, 4000))]

    @mcp.tool(auth=roles("agent"), annotations=ADDITIVE)
    async def send_message(
        ctx: Context, to_agent: Annotated[str, Field(min_length=1, max_length=ID_MAX)], text: Text
    ) -> Sent:
        """Tell one agent of your run something; it arrives as guidance (see get_agent_status)."""
        ids = await services(ctx).guidance.message(current_principal(), to_agent, text)
        return Sent(recipients=len(ids))

    @mcp.tool(auth=roles("agent"), annotations=ADDITIVE)
    async def broadcast_message(ctx: Context, text: Text) -> Sent:
        """Tell every other running agent of your run something (a finding that affects all)."""
        ids = await services(ctx).guidance.message(current_principal(), None, text)
        return Sent(recipients=len(ids))
