"""Assemble the server: FastMCP with tools, resources and prompts, inside a Starlette app.

Everything is built by factories, never at import, so tests and scripts can
run several servers side by side with their own stores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastmcp import FastMCP
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from heph_mcp import prompts, resources
from heph_mcp.api_routes import ApiRoutes
from heph_mcp.board import Board
from heph_mcp.board.auth import redact_access_log
from heph_mcp.git_http import PATH as GIT_PATH
from heph_mcp.git_http import GitHttp
from heph_mcp.hook_routes import HookRoutes
from heph_mcp.http_guards import BodyLimit, HostGuard
from heph_mcp.identity import HephTokenVerifier
from heph_mcp.memory import Memory
from heph_mcp.notify import serve_subscriptions
from heph_mcp.records import Principal
from heph_mcp.services import Services
from heph_mcp.session_cap import SessionCap
from heph_mcp.settings import Settings
from heph_mcp.store import Store
from heph_mcp.tools import (
    approvals,
    controls,
    guidance,
    live,
    ops,
    runs,
    tasks,
    tickets,
    validation,
)
from heph_mcp.tools import memory as memory_tools
from heph_mcp.tools.common import Limits
from heph_mcp.tools.plain_text import PlainText
from phases import Workflow, WorkflowRegistry

INSTRUCTIONS = """\
Hephaestus coordinates a swarm of coding agents working through a workflow of phases.
Users start runs with start_workflow and watch them with workflow_status.
Agents read their brief (prompt task_brief), create tasks in any phase when they
discover work, and finish with update_task_status."""


@dataclass
class Runtime:
    """Per-server holder: the token verifier needs services that exist only after start-up."""

    services: Services | None = None
    extra_workflows: list[Workflow] = field(default_factory=list)

    async def resolve(self, token: str) -> Principal | None:
        if self.services is None:
            return None
        return await self.services.identity.resolve(token)


def build_server(
    settings: Settings,
    *,
    store: Store | None = None,
    memory: Memory | None = None,
    workflows: list[Workflow] | None = None,
    runtime: Runtime | None = None,
) -> FastMCP:
    """Build the MCP server; a given store or memory is used as is and left open at stop.

    `runtime` lets the caller reach the services once the server has started
    (the board's routes do); by default the server keeps its own.
    """
    runtime = runtime or Runtime()
    runtime.extra_workflows = list(workflows or [])

    @asynccontextmanager
    async def lifespan(_: FastMCP) -> AsyncIterator[dict[str, Any]]:
        registry = WorkflowRegistry.with_builtins(settings.workflow_paths)
        for workflow in runtime.extra_workflows:
            registry.add(workflow)
        async with AsyncExitStack() as stack:
            own_store = store or await Store.open(settings.db_path)
            if store is None:
                stack.push_async_callback(own_store.close)
            own_memory = memory or Memory.open(settings)
            if memory is None:
                stack.push_async_callback(own_memory.close)
            runtime.services = await Services.create(
                settings, own_store, registry, own_memory, notifier
            )
            try:
                yield {"services": runtime.services}
            finally:
                runtime.services = None

    mcp = FastMCP(
        "hephaestus",
        instructions=INSTRUCTIONS,
        auth=HephTokenVerifier(runtime.resolve),
        lifespan=lifespan,
        mask_error_details=True,
    )
    notifier = serve_subscriptions(mcp)
    limits = Limits(text=settings.max_text_chars)
    runs.register(mcp, limits)
    tasks.register(mcp, limits)
    memory_tools.register(mcp, limits)
    validation.register(mcp, limits)
    tickets.register(mcp, limits)
    approvals.register(mcp, limits)
    ops.register(mcp)
    live.register(mcp)
    guidance.register(mcp)
    guidance.register_conductor(mcp)
    guidance.register_messages(mcp, settings.max_text_chars)
    controls.register(mcp, limits)
    controls.register_usage(mcp)
    mcp.add_middleware(guidance.PiggybackGuidance())
    mcp.add_middleware(PlainText())
    resources.register(mcp)
    prompts.register(mcp)
    return mcp


def build_app(
    settings: Settings,
    *,
    store: Store | None = None,
    memory: Any = None,
    workflows: list[Workflow] | None = None,
) -> Starlette:
    """The HTTP app: MCP at /mcp, the board at / and /board/, agents' permission hooks at
    /hooks/, the JSON status at /api/status, the repository of record for workers at /git/
    (git_http.py), an unauthenticated /healthz, a request-size cap (not for /git/: a
    pushed pack is no text).

    `app.state.stop_streams()` ends the board's event streams; call it when the
    server begins to stop (serve.HephServer does), or uvicorn waits on them.
    """
    runtime = Runtime()
    mcp = build_server(settings, store=store, memory=memory, workflows=workflows, runtime=runtime)
    mcp_app = mcp.http_app(path="/mcp", session_idle_timeout=settings.mcp_session_idle_seconds)
    board = Board(lambda: runtime.services, runtime.resolve)
    hooks = HookRoutes(lambda: runtime.services, runtime.resolve)
    api = ApiRoutes(lambda: runtime.services, runtime.resolve)
    git = GitHttp(settings, runtime.resolve)
    redact_access_log()

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "name": "hephaestus"})

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            *hooks.routes(),
            *api.routes(),
            *git.routes(),
            *board.routes(),
            Mount("/", app=mcp_app),
        ],
        lifespan=mcp_app.lifespan,
    )
    app.state.stop_streams = board.streams.stop
    app.state.services = lambda: runtime.services  # `heph up`'s event log reads through them
    app.add_middleware(
        SessionCap,
        resolve=runtime.resolve,
        per_principal=settings.max_sessions_per_principal,
        idle_seconds=settings.mcp_session_idle_seconds,
    )
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes, exempt=(GIT_PATH + "/",))
    app.add_middleware(HostGuard, settings=settings)
    return app
