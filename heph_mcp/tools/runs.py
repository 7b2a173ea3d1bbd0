"""User tools: see the workflows, start, watch and cancel runs."""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated, Any

from fastmcp import Context, FastMCP
from fastmcp.tools import ToolResult
from mcp.types import TextContent
from pydantic import BaseModel, Field

from heph_mcp.brief import status_text
from heph_mcp.identity import current_principal
from heph_mcp.merge_records import LandRequest
from heph_mcp.records import WorkflowStatus
from heph_mcp.services.runs import CancelledRun, StartedRun
from heph_mcp.tools.common import (
    ADDITIVE,
    DESTRUCTIVE,
    ID_MAX,
    IDEMPOTENT_WRITE,
    READ_ONLY,
    Limits,
    roles,
    services,
)
from phases import LaunchParameter, Workflow


class PhaseInfo(BaseModel):
    id: int
    name: str
    description: str


class WorkflowInfo(BaseModel):
    name: str
    description: str
    phases: list[PhaseInfo]
    has_result: bool
    launch_parameters: list[LaunchParameter] = Field(
        description="What start_workflow's params take: ask the user for each, by its type"
    )

    @classmethod
    def of(cls, workflow: Workflow) -> "WorkflowInfo":
        return cls(
            name=workflow.name,
            description=workflow.description,
            phases=[
                PhaseInfo(id=p.id, name=p.name, description=p.description) for p in workflow.phases
            ],
            has_result=workflow.config.has_result,
            launch_parameters=list(workflow.config.launch_parameters),
        )


class WorkflowList(BaseModel):
    workflows: list[WorkflowInfo]


def register(mcp: FastMCP, limits: Limits) -> None:
    @mcp.tool(auth=roles("user"), annotations=READ_ONLY)
    async def list_workflows(ctx: Context) -> WorkflowList:
        """List the workflows this server can run, with their phases."""
        return WorkflowList(workflows=[WorkflowInfo.of(w) for w in services(ctx).workflows.all()])

    @mcp.tool(auth=roles("user"), annotations=IDEMPOTENT_WRITE)
    async def register_workflow(
        ctx: Context,
        definition: Annotated[
            dict[str, Any],
            Field(
                description=(
                    "A workflow: {name, description, phases: [{id, name, description,"
                    " done_definitions, ...}], config: {...}}; same shape as the YAML files"
                )
            ),
        ],
    ) -> WorkflowInfo:
        """Add or replace a workflow definition; it is kept across restarts."""
        workflow = await services(ctx).workflows.register(current_principal(), definition)
        return WorkflowInfo.of(workflow)

    @mcp.tool(auth=roles("user"), annotations=ADDITIVE)
    async def start_workflow(
        ctx: Context,
        workflow: Annotated[
            str,
            Field(min_length=1, max_length=ID_MAX, description="Workflow name, see list_workflows"),
        ],
        goal: Annotated[
            str,
            Field(min_length=1, max_length=limits.text, description="What this run should achieve"),
        ],
        params: Annotated[
            dict[str, Annotated[str, Field(max_length=limits.text)] | int],
            Field(
                max_length=limits.list_items,
                description="Values for the workflow's launch parameters (list_workflows gives"
                " each one's type, options and default)",
            ),
        ] = {},  # noqa: B006
    ) -> StartedRun:
        """Start a run of a workflow; its first phase-1 task is queued for an agent."""
        return await services(ctx).runs.start(current_principal(), workflow, goal, params)

    @mcp.tool(
        auth=roles("user", "ops"),
        annotations=READ_ONLY,
        output_schema=WorkflowStatus.model_json_schema(),
    )
    async def workflow_status(
        ctx: Context,
        run: Annotated[
            str | None, Field(max_length=ID_MAX, description="One run; omit for all runs")
        ] = None,
    ) -> ToolResult:
        """Show runs with their tasks by phase and status, and the agents working."""
        runs = await services(ctx).runs.status(run)
        text = status_text(runs)
        result = WorkflowStatus(runs=runs, text=text)
        return ToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=result.model_dump(mode="json"),
        )

    @mcp.tool(auth=roles("user"), annotations=DESTRUCTIVE)
    async def cancel_workflow(
        ctx: Context, run: Annotated[str, Field(min_length=1, max_length=ID_MAX)]
    ) -> CancelledRun:
        """Cancel a run: its open tasks are cancelled and its agents will be stopped."""
        return await services(ctx).runs.cancel(current_principal(), run)

    @mcp.tool(auth=roles("user"), annotations=IDEMPOTENT_WRITE)
    async def land_run(
        ctx: Context,
        run: Annotated[str, Field(min_length=1, max_length=ID_MAX)],
        into: Annotated[
            str | None,
            Field(
                max_length=200,
                pattern=r"^[A-Za-z0-9_][A-Za-z0-9._/\-]*$",
                description="Your branch to merge the run into; default: the one checked out",
            ),
        ] = None,
        wait_seconds: Annotated[
            float, Field(ge=0, le=120, description="How long to wait for the launcher's answer")
        ] = 30.0,
    ) -> LandRequest:
        """Merge the run's branch heph/<run> into your branch, now that you want its work.

        A launcher does it with a compare-and-swap, after the run's pending merges; it
        refuses (and changes nothing) when that branch is checked out with uncommitted
        changes, or when the two conflict. Nothing else ever touches your branch.
        """
        return await services(ctx).landings.request(current_principal(), run, into, wait_seconds)
