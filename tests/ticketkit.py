"""Helpers for ticket tests: a workflow with tickets on a custom board, and terse calls."""

from __future__ import annotations

from typing import Any

from fastmcp import Client

COLUMNS = ["triage", "doing", "review", "shipped"]
KANBAN = {
    "name": "kanban",
    "description": "Plan then build, tracked on a board",
    "phases": [
        {"id": 1, "name": "plan", "description": "Plan the work"},
        {"id": 2, "name": "build", "description": "Build it"},
    ],
    "config": {
        "enable_tickets": True,
        "board": {"columns": COLUMNS},
        "max_concurrent_agents": 8,
    },
}


async def kanban_run(heph: Any, goal: str = "ship the importer") -> str:
    """Register the kanban workflow (idempotent) and start a run of it."""
    async with heph.user() as user:
        await user.call_tool("register_workflow", {"definition": KANBAN})
    return str((await heph.start_run("kanban", goal))["run_id"])


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    return result.structured_content or {}


async def refused(client: Client, tool: str, **args: Any) -> str:
    """Call a tool that must fail; its error text."""
    result = await client.call_tool(tool, args, raise_on_error=False)
    assert result.is_error, result.structured_content
    return str(getattr(result.content[0], "text", ""))


async def ticket(client: Client, title: str, **args: Any) -> dict[str, Any]:
    return await call(
        client, "create_ticket", title=title, description=args.pop("description", title), **args
    )
