"""The operator's controls (user role) and the usage reports behind a run's cost (ops role).

Agents and ops never see the controls: a steer by hand is the user's; the
Conductor's own `cancel_task` stays an ops tool.
"""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import Field

from heph_mcp.cost_records import RunCost, UsageEntry, UsageRecorded
from heph_mcp.identity import current_principal
from heph_mcp.records import Priority, Task
from heph_mcp.services.controls import Delivered, RunPause, Stopped, StopThen
from heph_mcp.tools.common import (
    ADDITIVE,
    DESTRUCTIVE,
    ID_MAX,
    IDEMPOTENT_WRITE,
    Limits,
    roles,
    services,
)

Id = Annotated[str, Field(min_length=1, max_length=ID_MAX)]
Reason = Annotated[str, Field(min_length=1, max_length=4096)]


def register(mcp: FastMCP, limits: Limits) -> None:
    Text = Annotated[str, Field(min_length=1, max_length=min(limits.text, 4000))]

    @mcp.tool(auth=roles("user"), annotations=ADDITIVE)
    async def message_agent(
        ctx: Context,
        text: Text,
        agent_id: Annotated[Id | None, Field(description="The agent to tell")] = None,
        task_id: Annotated[Id | None, Field(description="Or: the task whose agent to tell")] = None,
    ) -> Delivered:
        """Tell one running agent something; it reaches its model as guidance from you."""
        return await services(ctx).controls.message(current_principal(), text, agent_id, task_id)

    @mcp.tool(auth=roles("user"), annotations=DESTRUCTIVE)
    async def cancel_one_task(ctx: Context, task_id: Id, reason: Reason) -> Task:
        """Cancel one open task (not its whole run), with your reason; its agent is stopped."""
        return await services(ctx).controls.cancel(current_principal(), task_id, reason)

    @mcp.tool(auth=roles("user"), annotations=ADDITIVE)
    async def retry_task(ctx: Context, task_id: Id, reason: Reason = "retried by the user") -> Task:
        """Queue a failed or cancelled task again, with a fresh set of attempts."""
        return await services(ctx).controls.retry(current_principal(), task_id, reason)

    @mcp.tool(auth=roles("user"), annotations=IDEMPOTENT_WRITE)
    async def set_task_priority(ctx: Context, task_id: Id, priority: Priority) -> Task:
        """Change an open task's priority; claims take higher priorities first."""
        return await services(ctx).controls.prioritise(current_principal(), task_id, priority)

    @mcp.tool(auth=roles("user"), annotations=DESTRUCTIVE)
    async def stop_agent(
        ctx: Context,
        agent_id: Id,
        then: Annotated[
            StopThen, Field(description="requeue: its task goes back to the queue; fail: it fails")
        ],
        reason: Reason,
    ) -> Stopped:
        """Stop one agent; its launcher ends the session and keeps its work on the branch."""
        controls = services(ctx).controls
        return await controls.stop_agent(current_principal(), agent_id, then, reason)

    @mcp.tool(auth=roles("user"), annotations=IDEMPOTENT_WRITE)
    async def pause_run(ctx: Context, run: Id) -> RunPause:
        """Pause a run: nothing new launches; agents already working carry on."""
        return await services(ctx).controls.pause(current_principal(), run, True)

    @mcp.tool(auth=roles("user"), annotations=IDEMPOTENT_WRITE)
    async def resume_run(ctx: Context, run: Id) -> RunPause:
        """Resume a paused run: its queued tasks launch again."""
        return await services(ctx).controls.pause(current_principal(), run, False)

    @mcp.tool(auth=roles("user"), annotations=IDEMPOTENT_WRITE)
    async def set_run_budget(
        ctx: Context,
        run: Id,
        budget_tokens: Annotated[
            int | None, Field(ge=0, description="The token cap; 0 lifts it; omit to keep it")
        ] = None,
        budget_usd: Annotated[
            float | None, Field(ge=0, description="The dollar cap; 0 lifts it; omit to keep it")
        ] = None,
    ) -> RunCost:
        """Change a run's budget: a run raised back under it launches again."""
        costs = services(ctx).costs
        return await costs.set_budget(current_principal(), run, budget_tokens, budget_usd)


def register_usage(mcp: FastMCP) -> None:
    @mcp.tool(auth=roles("ops"), annotations=IDEMPOTENT_WRITE)
    async def record_usage(
        ctx: Context,
        agent_id: Id,
        entries: Annotated[list[UsageEntry], Field(max_length=5000)],
        source: Literal["agent", "guardian"] = "agent",
    ) -> UsageRecorded:
        """Report tokens per model call of an agent (its transcript) or of the Guardian judging
        it; an entry reported again replaces the earlier one. Judges the run's budget."""
        return await services(ctx).costs.record(current_principal(), agent_id, source, entries)
