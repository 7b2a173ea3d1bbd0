"""Python API for scripts: connect to (or start) a server and drive runs over MCP.

Scripts are just another MCP client with the user role, so everything they
do goes through the same tools, checks and records as an agent's calls.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn
from fastmcp import Client
from mcp.client.subscriptions import Subscription, listen

from heph_mcp.app import build_app
from heph_mcp.identity import local_token
from heph_mcp.memory import Memory
from heph_mcp.memory.embedder import Embedder
from heph_mcp.serve import HephServer, prepare, running_url
from heph_mcp.settings import Settings
from phases import Workflow


class HephCallError(RuntimeError):
    """A tool answered with an error; the message is the server's explanation."""


class HephClient:
    """Async MCP client with one method per user tool."""

    def __init__(self, url: str, token: str):
        self.url = url
        self._client = Client(url, auth=token)

    @classmethod
    def for_project(cls, settings: Settings) -> HephClient:
        url = running_url(settings) or settings.url
        return cls(url, local_token(settings.secrets_dir, "user"))

    async def __aenter__(self) -> HephClient:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.__aexit__(*exc)

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        args = {k: v for k, v in arguments.items() if v is not None}
        result = await self._client.call_tool(tool, args, raise_on_error=False)
        if result.is_error:
            text = " ".join(getattr(c, "text", "") for c in result.content)
            raise HephCallError(f"{tool}: {text}")
        return result.structured_content or {}

    async def prompt(self, name: str, **arguments: Any) -> str:
        """A prompt's text (its messages joined), rendered for this client's identity."""
        args = {k: v for k, v in arguments.items() if v is not None}
        result = await self._client.get_prompt(name, args)
        return "\n\n".join(getattr(m.content, "text", "") for m in result.messages)

    def listen(self, *uris: str) -> AbstractAsyncContextManager[Subscription]:
        """Subscribe to updates of resources (MCP `subscriptions/listen`)."""
        return listen(self._client.session, resource_subscriptions=list(uris))

    async def register_workflow(self, workflow: Workflow) -> dict[str, Any]:
        return await self.call("register_workflow", definition=workflow.model_dump(mode="json"))

    async def start_workflow(self, workflow: str, goal: str, **params: str | int) -> dict[str, Any]:
        return await self.call("start_workflow", workflow=workflow, goal=goal, params=params)

    async def create_task(
        self, run: str, phase: int | str, title: str, description: str, **extra: Any
    ) -> dict[str, Any]:
        return await self.call(
            "create_task", run=run, phase=phase, title=title, description=description, **extra
        )

    async def status(self, run: str | None = None) -> dict[str, Any]:
        return await self.call("workflow_status", run=run)

    async def cancel(self, run: str) -> dict[str, Any]:
        return await self.call("cancel_workflow", run=run)

    async def land(self, run: str, into: str | None = None, wait: float = 30.0) -> dict[str, Any]:
        """Ask for the run's branch to be merged into yours; see the land_run tool."""
        return await self.call("land_run", run=run, into=into, wait_seconds=wait)

    async def wait_for(
        self,
        run: str,
        done: Callable[[dict[str, Any]], bool],
        timeout: float = 600.0,
        interval: float = 1.0,
    ) -> dict[str, Any]:
        """Poll the run's status until `done(status)` holds; TimeoutError names the last state."""
        deadline = time.monotonic() + timeout
        while True:
            status = (await self.status(run))["runs"][0]
            if done(status):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run} not finished after {timeout}s: {status['run']}")
            await asyncio.sleep(interval)


def all_tasks_finished(status: dict[str, Any]) -> bool:
    """A `wait_for` condition: no task of the run is still open."""
    open_states = {"queued", "blocked", "claimed", "running", "validating", "needs_work"}
    return not any(t["status"] in open_states for p in status["phases"] for t in p["tasks"])


def merges_settled(status: dict[str, Any]) -> bool:
    """A `wait_for` condition: no agent runs and the run's merge queue is empty, so every
    finished task's merge has its outcome."""
    return not status["agents"] and not status.get("merge_queue")


class LocalServer:
    """A server in a background thread, for scripts and tests that want one in-process."""

    def __init__(
        self,
        settings: Settings,
        workflows: list[Workflow] | None = None,
        embedder: Embedder | None = None,
    ):
        """`embedder` shares an already loaded model (its Qdrant stays this server's own)."""
        prepare(settings)
        self.settings = settings
        self.memory = Memory.open(settings, embedder=embedder) if embedder else None
        app = build_app(settings, workflows=workflows, memory=self.memory)
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_level="warning", lifespan="on"
        )
        self._server = HephServer(config, app.state.stop_streams)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start on {self.settings.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self.memory is not None:
            # Its own thread and loop: the caller may be inside a running event loop.
            closer = threading.Thread(target=asyncio.run, args=(self.memory.close(),))
            closer.start()
            closer.join(timeout=30)

    def client(self) -> HephClient:
        return HephClient(self.settings.url, local_token(self.settings.secrets_dir, "user"))
