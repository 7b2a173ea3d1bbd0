"""MCP prompts: the agent's brief (and, later, Guardian guidance).

Claude Code shows prompts as `/mcp__hephaestus__<name>` slash commands and
fetches them with the agent's own headers, so identity decides whose brief
is rendered.
"""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated

from fastmcp import Context, FastMCP
from fastmcp.exceptions import PromptError
from pydantic import Field

from heph_mcp.errors import InvalidRequest
from heph_mcp.identity import current_principal
from heph_mcp.resources import domain_errors
from heph_mcp.services.task_detail import brief_of
from heph_mcp.tools.common import ID_MAX, roles, services


def register(mcp: FastMCP) -> None:
    @mcp.prompt(auth=roles("user", "agent", "ops"))
    async def task_brief(
        ctx: Context,
        task_id: Annotated[
            str | None,
            Field(
                max_length=ID_MAX,
                description=("Agents omit it (their own task); user and ops name the task"),
            ),
        ] = None,
    ) -> str:
        """Everything an agent needs to do its task: task, phase instructions, tool guide."""
        with domain_errors(PromptError):
            return await _brief(ctx, task_id)


async def _brief(ctx: Context, task_id: str | None) -> str:
    me = current_principal()
    svc = services(ctx)
    if me.role == "agent":
        if task_id not in (None, me.task_id):
            raise InvalidRequest(f"agents read only their own brief ({me.task_id}); omit task_id")
        task_id = me.task_id
    if task_id is None:
        raise InvalidRequest("task_id is required for the user and ops roles")
    return await brief_of(svc, await svc.tasks.get(me, task_id))
