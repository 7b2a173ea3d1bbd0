"""Read-only views as MCP resources: workflows, phase instructions, tasks.

Domain errors become ResourceError so the caller sees why (unknown run,
not your run) instead of a masked failure.
"""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

import json
from collections.abc import Iterator
from contextlib import contextmanager

from fastmcp import Context, FastMCP
from fastmcp.exceptions import FastMCPError, ResourceError

from heph_mcp.brief import phase_instructions
from heph_mcp.errors import HephError, NotFound
from heph_mcp.identity import current_principal
from heph_mcp.notify import QUESTIONS_URI, QUEUE_URI
from heph_mcp.services.guidance import guardian_view
from heph_mcp.tools.common import roles, services
from heph_mcp.tools.runs import WorkflowInfo

ALL = roles("user", "agent", "ops")


@contextmanager
def domain_errors(kind: type[FastMCPError] = ResourceError) -> Iterator[None]:
    """Re-raise a domain error as the MCP error kind that keeps its message."""
    try:
        yield
    except HephError as exc:
        raise kind(str(exc)) from None


def register(mcp: FastMCP) -> None:
    @mcp.resource(QUEUE_URI, mime_type="application/json", auth=roles("ops"))
    async def queue(ctx: Context) -> str:
        """Task counts by status; subscribe to hear when work is queued, finished or cancelled."""
        return json.dumps(await services(ctx).agents.queue_counts())

    @mcp.resource(QUESTIONS_URI, mime_type="application/json", auth=roles("user"))
    async def questions(ctx: Context) -> str:
        """Agents' requests waiting for your answer; subscribe to hear of new ones."""
        listed = await services(ctx).approvals.listed(None, "pending", 200)
        return json.dumps({"questions": [q.model_dump() for q in listed]}, indent=2)

    @mcp.resource("heph://workflows", mime_type="application/json", auth=ALL)
    async def workflows(ctx: Context) -> str:
        """Every workflow this server offers, with its phases."""
        infos = [WorkflowInfo.of(w).model_dump() for w in services(ctx).workflows.all()]
        return json.dumps({"workflows": infos}, indent=2)

    @mcp.resource("heph://workflows/{name}", mime_type="application/json", auth=ALL)
    async def workflow(name: str, ctx: Context) -> str:
        """One workflow's full definition."""
        with domain_errors():
            return services(ctx).workflows.get(name).model_dump_json(indent=2)

    @mcp.resource("heph://runs/{run}/phases/{phase}", mime_type="text/markdown", auth=ALL)
    async def phase(run: str, phase: str, ctx: Context) -> str:
        """The full instructions an agent of this phase needs."""
        with domain_errors():
            me = current_principal()
            if me.role == "agent" and me.run_id != run:
                raise NotFound(f"no run {run!r} visible to you; your run is {me.run_id}")
            wf = await services(ctx).run_workflows.get(run)
            try:
                return phase_instructions(wf, wf.phase(phase))
            except KeyError as exc:
                raise NotFound(exc.args[0]) from None

    @mcp.resource(
        "heph://runs/{run}/guardian", mime_type="application/json", auth=roles("user", "ops")
    )
    async def guardian(run: str, ctx: Context) -> str:
        """The Guardian's latest note on each agent, its recent steers, and its cost per judge."""
        with domain_errors():
            await services(ctx).runs.get(run)
            view = await guardian_view(services(ctx).store, run, steers=100)
            return view.model_dump_json(indent=2)

    @mcp.resource("heph://runs/{run}/tickets", mime_type="application/json", auth=ALL)
    async def tickets(run: str, ctx: Context) -> str:
        """The run's tickets (summaries), when its workflow enables them."""
        with domain_errors():
            found = await services(ctx).tickets.find(current_principal(), run=run, limit=1000)
            return json.dumps({"tickets": [t.model_dump() for t in found]}, indent=2)

    @mcp.resource("heph://tasks/{task_id}", mime_type="application/json", auth=ALL)
    async def task(task_id: str, ctx: Context) -> str:
        """One task as JSON."""
        with domain_errors():
            found = await services(ctx).tasks.get(current_principal(), task_id)
            return found.model_dump_json(indent=2)
