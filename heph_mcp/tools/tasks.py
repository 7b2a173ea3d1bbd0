"""Task tools for agents (their own run) and the user (any run)."""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import Field

from heph_mcp.identity import current_principal
from heph_mcp.records import Priority, Task, TaskList, TaskStatus
from heph_mcp.tools.common import ADDITIVE, ID_MAX, READ_ONLY, Limits, roles, services
from phases.models import Label

PhaseRef = Annotated[
    int | str,
    Field(description="Phase id (1, 2, ...) or phase name, e.g. 2 or 'implementation'"),
]
RunRef = Annotated[
    str | None,
    Field(
        default=None,
        max_length=ID_MAX,
        description="User role: the run. Agents omit it: they always act in their own run.",
    ),
]


def register(mcp: FastMCP, limits: Limits) -> None:
    text = Field(min_length=1, max_length=limits.text)
    item = Annotated[str, Field(min_length=1, max_length=limits.text)]

    @mcp.tool(auth=roles("user", "agent"), annotations=ADDITIVE)
    async def create_task(
        ctx: Context,
        phase: PhaseRef,
        title: Annotated[str, Field(min_length=1, max_length=limits.title)],
        description: Annotated[str, text],
        done_definition: Annotated[str, Field(max_length=limits.text)] = "",
        priority: Priority = "medium",
        depends_on: Annotated[
            list[Annotated[str, Field(max_length=ID_MAX)]],
            Field(
                max_length=limits.list_items,
                description="Task ids that must be done first; the task waits as blocked",
            ),
        ] = [],  # noqa: B006 - pydantic copies defaults
        run: RunRef = None,
        ticket_id: Annotated[
            str | None,
            Field(
                max_length=ID_MAX,
                description="The ticket this task works on (runs with tickets); the task waits"
                " as blocked while the ticket's blockers are unresolved",
            ),
        ] = None,
        requires: Annotated[
            list[Label],
            Field(
                max_length=16,
                description="Worker labels (e.g. gpu, macos) the worker that runs it must have",
            ),
        ] = [],  # noqa: B006 - pydantic copies defaults
    ) -> Task:
        """Create a task in any phase of your run when you discover work worth doing.

        Use it for a new bug, a missing test, a follow-up investigation: anything
        outside your own task. Another agent will pick it up. Describe the problem,
        where you saw it and how to tell it is done.
        """
        tasks, principal = services(ctx).tasks, current_principal()
        draft = await tasks.draft(
            principal,
            phase=phase,
            title=title,
            description=description,
            done_definition=done_definition,
            priority=priority,
            depends_on=depends_on,
            run=run,
            ticket_id=ticket_id,
            requires=requires,
        )
        return await tasks.create(principal, draft)

    @mcp.tool(auth=roles("user", "agent"), annotations=READ_ONLY)
    async def get_tasks(
        ctx: Context,
        status: TaskStatus | None = None,
        phase: PhaseRef | None = None,
        run: RunRef = None,
    ) -> TaskList:
        """List tasks of your run, optionally only one status or phase."""
        tasks = await services(ctx).tasks.find(
            current_principal(), status=status, phase=phase, run=run
        )
        return TaskList(tasks=tasks)

    @mcp.tool(auth=roles("user", "agent", "ops"), annotations=READ_ONLY)
    async def get_task(
        ctx: Context, task_id: Annotated[str, Field(min_length=1, max_length=ID_MAX)]
    ) -> Task:
        """Read one task: its description, status, who created it and its summary."""
        return await services(ctx).tasks.get(current_principal(), task_id)

    @mcp.tool(auth=roles("agent"), annotations=ADDITIVE)
    async def update_task_status(
        ctx: Context,
        status: Literal["done", "failed"],
        summary: Annotated[str, text],
        learnings: Annotated[
            list[item],
            Field(
                max_length=limits.list_items, description="Lessons worth keeping for other agents"
            ),
        ] = [],  # noqa: B006
    ) -> Task:
        """Report your own task finished (done) or impossible (failed), once, at the end.

        The summary says what you did and how you checked it: commits, files, tests.
        """
        return await services(ctx).finish_task(current_principal(), status, summary, learnings)
