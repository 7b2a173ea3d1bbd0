"""Shared fixtures: a real server app over in-process HTTP with a real SQLite file.

`heph` serves the full Starlette app (auth, body cap, MCP) through fastmcp's
in-process ASGI transport, so every test speaks real MCP over HTTP with a
bearer token, without a socket.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.utilities.asgi_transport import run_asgi_lifespan
from fastmcp.utilities.tests import ASGIServer

from heph_mcp.app import build_app
from heph_mcp.identity import local_token
from heph_mcp.memory import Memory
from heph_mcp.memory.embedder import LocalEmbedder
from heph_mcp.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(project=tmp_path, port=8765)


@dataclass
class Agent:
    agent_id: str
    task_id: str
    run_id: str
    token: str


@dataclass
class Heph:
    """A running server and ways to call it as each role."""

    settings: Settings
    server: ASGIServer

    def client(self, token: str | None) -> Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.server.client(headers=headers)

    def user(self) -> Client:
        return self.client(local_token(self.settings.secrets_dir, "user"))

    def ops(self) -> Client:
        return self.client(local_token(self.settings.secrets_dir, "ops"))

    async def list_tools_status(self, headers: dict[str, str]) -> int:
        """The HTTP status of a raw `tools/list` sent with `headers`: 401 for a token that is
        unknown, forged or revoked."""
        async with self.server.http_client() as http:
            response = await http.post(
                "/mcp",
                headers={**headers, "Accept": "application/json, text/event-stream"},
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            )
        return response.status_code

    def db(self) -> sqlite3.Connection:
        """A second, independent connection to the server's SQLite file."""
        conn = sqlite3.connect(self.settings.db_path)
        conn.row_factory = sqlite3.Row
        return conn

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, to prove a failed call changed nothing."""
        with self.db() as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}"))) for t in tables}

    async def start_run(self, workflow: str = "bug_fix", goal: str = "fix the crash") -> dict:
        async with self.user() as user:
            result = await user.call_tool("start_workflow", {"workflow": workflow, "goal": goal})
        return result.structured_content  # type: ignore[return-value]

    async def launch_agent(self, worker: str = "w1") -> Agent:
        """What the launcher does: claim the next task and register an agent for it."""
        async with self.ops() as ops:
            claim = await ops.call_tool("claim_task", {"worker": worker, "slots": 8})
            task = claim.structured_content["task"]
            assert task is not None, claim.structured_content
            session = await ops.call_tool(
                "register_agent",
                {
                    "task_id": task["id"],
                    "worker": worker,
                    "session_name": f"heph-{task['run_id']}-{task['id']}",
                    "cli": "claude",
                },
            )
        data = session.structured_content
        return Agent(data["agent_id"], task["id"], task["run_id"], data["token"])


@pytest.fixture(scope="session")
def embedder() -> Iterator[LocalEmbedder]:
    """The real default model, loaded once for the whole session (about 5 s)."""
    model = LocalEmbedder()
    yield model
    model.close()


@asynccontextmanager
async def serving(settings: Settings, embedder: LocalEmbedder) -> AsyncIterator[Heph]:
    """Start the app (lifespan and all) on `settings`; leaving the block stops it.

    Qdrant is embedded in the test's own folder; only the loaded model is shared.
    """
    memory = Memory.open(settings, embedder=embedder)
    app = build_app(settings, memory=memory)
    try:
        async with run_asgi_lifespan(app):
            yield Heph(
                settings, ASGIServer(url="http://127.0.0.1/mcp", app=app, transport_type="http")
            )
    finally:
        await memory.close()


@pytest.fixture
def serve(embedder: LocalEmbedder) -> Callable[[Settings], AbstractAsyncContextManager[Heph]]:
    """For tests that stop and start the server on the same state."""
    return lambda settings: serving(settings, embedder)


@pytest.fixture
async def heph(settings: Settings, embedder: LocalEmbedder) -> AsyncIterator[Heph]:
    async with serving(settings, embedder) as running:
        yield running
