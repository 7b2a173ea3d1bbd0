"""Kanban ticket tools for agents (their own run) and the user (a named run).

They answer only for runs whose workflow sets `enable_tickets`; otherwise each
says tickets are off for that workflow.
"""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated

from fastmcp import Context, FastMCP
from pydantic import Field

from heph_mcp.identity import current_principal
from heph_mcp.records import Priority
from heph_mcp.ticket_records import Ticket, TicketHits, TicketList, TicketType
from heph_mcp.tools.common import (
    ADDITIVE,
    ID_MAX,
    IDEMPOTENT_WRITE,
    READ_ONLY,
    Limits,
    roles,
    services,
)
from heph_mcp.tools.tasks import RunRef

TicketRef = Annotated[str, Field(min_length=1, max_length=ID_MAX, description="A ticket id")]
Column = Annotated[
    str, Field(min_length=1, max_length=64, description="A column of the workflow's board")
]


def register(mcp: FastMCP, limits: Limits) -> None:
    Text = Annotated[str, Field(min_length=1, max_length=limits.text)]
    Title = Annotated[str, Field(min_length=1, max_length=limits.title)]
    Tag = Annotated[str, Field(min_length=1, max_length=64)]
    Tags = Annotated[list[Tag], Field(max_length=limits.list_items)]
    Blockers = Annotated[
        list[Annotated[str, Field(max_length=ID_MAX)]],
        Field(
            max_length=limits.list_items,
            description="Tickets that must be resolved first; their tasks wait as blocked",
        ),
    ]
    Assignee = Annotated[str, Field(max_length=ID_MAX, description="Agent or person; '' clears")]

    @mcp.tool(auth=roles("user", "agent"), annotations=ADDITIVE)
    async def create_ticket(
        ctx: Context,
        title: Title,
        description: Text,
        type: TicketType = "task",
        priority: Priority = "medium",
        assignee: Assignee | None = None,
        tags: Tags = [],  # noqa: B006 - pydantic copies defaults
        blocked_by: Blockers = [],  # noqa: B006
        run: RunRef = None,
    ) -> Ticket:
        """Open a ticket on the run's board (first column) for a bug, feature or piece of work.

        Then tie tasks to it with create_task(ticket_id=...). A ticket blocked by
        others holds its tasks back until every blocker is resolved.
        """
        return await services(ctx).tickets.create(
            current_principal(),
            title=title,
            description=description,
            type=type,
            priority=priority,
            assignee=assignee,
            tags=tags,
            blocked_by=blocked_by,
            run=run,
        )

    @mcp.tool(auth=roles("user", "agent"), annotations=IDEMPOTENT_WRITE)
    async def update_ticket(
        ctx: Context,
        ticket_id: TicketRef,
        title: Title | None = None,
        description: Text | None = None,
        type: TicketType | None = None,
        priority: Priority | None = None,
        assignee: Assignee | None = None,
        tags: Tags | None = None,
        blocked_by: Annotated[
            Blockers | None, Field(description="Replaces the whole list; [] removes every blocker")
        ] = None,
    ) -> Ticket:
        """Change a ticket's fields; omitted ones stay. Each change is kept in its history."""
        return await services(ctx).tickets.update(
            current_principal(),
            ticket_id,
            title=title,
            description=description,
            type=type,
            priority=priority,
            assignee=assignee,
            tags=tags,
            blocked_by=blocked_by,
        )

    @mcp.tool(auth=roles("user", "agent"), annotations=IDEMPOTENT_WRITE)
    async def change_ticket_status(ctx: Context, ticket_id: TicketRef, status: Column) -> Ticket:
        """Move a ticket to another column of the workflow's board (e.g. in_progress, review)."""
        return await services(ctx).tickets.change_status(current_principal(), ticket_id, status)

    @mcp.tool(auth=roles("user", "agent"), annotations=ADDITIVE)
    async def add_ticket_comment(ctx: Context, ticket_id: TicketRef, text: Text) -> Ticket:
        """Add a comment: progress, a finding, a question for whoever works on it next."""
        return await services(ctx).tickets.comment(current_principal(), ticket_id, text)

    @mcp.tool(auth=roles("user", "agent"), annotations=READ_ONLY)
    async def get_ticket(ctx: Context, ticket_id: TicketRef) -> Ticket:
        """Read one ticket with its comments, history, linked tasks and merge commits."""
        return await services(ctx).tickets.get(current_principal(), ticket_id)

    @mcp.tool(auth=roles("user", "agent"), annotations=READ_ONLY)
    async def list_tickets(
        ctx: Context,
        status: Column | None = None,
        type: TicketType | None = None,
        priority: Priority | None = None,
        assignee: Annotated[str | None, Field(max_length=ID_MAX)] = None,
        blocked: Annotated[
            bool | None, Field(description="true: only tickets waiting on unresolved blockers")
        ] = None,
        resolved: bool | None = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 100,
        run: RunRef = None,
    ) -> TicketList:
        """List the run's tickets, oldest first, optionally filtered."""
        tickets = await services(ctx).tickets.find(
            current_principal(),
            run=run,
            limit=limit,
            status=status,
            type=type,
            priority=priority,
            assignee=assignee,
            blocked=blocked,
            resolved=resolved,
        )
        return TicketList(tickets=tickets)

    @mcp.tool(auth=roles("user", "agent"), annotations=READ_ONLY)
    async def search_tickets(
        ctx: Context,
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=limits.text,
                description="Plain words, an error code or an identifier",
            ),
        ],
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        run: RunRef = None,
    ) -> TicketHits:
        """Find tickets by meaning and by exact words at once, best first.

        Search before creating a ticket: the problem may already have one.
        """
        hits = await services(ctx).tickets.search(current_principal(), query, limit=limit, run=run)
        return TicketHits(hits=hits)

    @mcp.tool(auth=roles("user", "agent"), annotations=ADDITIVE)
    async def resolve_ticket(ctx: Context, ticket_id: TicketRef, resolution: Text) -> Ticket:
        """Resolve a ticket (once): it moves to the board's last column, and tasks of
        tickets it was blocking start when nothing else blocks them.

        A ticket also resolves by itself when its last open task is reported done.
        """
        return await services(ctx).tickets.resolve(current_principal(), ticket_id, resolution)
