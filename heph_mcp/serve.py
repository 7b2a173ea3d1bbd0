"""Run the server under uvicorn, and tell other local processes where it is.

`server.json` in the state folder records the URL and pid so `heph status`,
`heph mcp-config` and the helper processes find a running server without
flags.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import uvicorn

from heph_mcp.app import build_app
from heph_mcp.identity import local_token
from heph_mcp.memory import MEMORIES, TASKS, TICKETS, qdrant_client_for
from heph_mcp.memory.vectors import (
    IndexLocked,
    IndexMismatch,
    IndexUnreachable,
    ScopedIndex,
    check_reachable,
)
from heph_mcp.settings import Settings
from heph_mcp.state_dir import prepare_state_dir
from phases import Workflow


class ServeError(RuntimeError):
    """A start-up failure with its cause and fix in the message."""


def check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise ServeError(
                f"port {port} on {host} is in use: pass --port N (or HEPH_PORT), "
                f"or stop the program using it (`ss -ltnp 'sport = :{port}'` shows which)"
            ) from None


def server_file(settings: Settings) -> Path:
    return settings.state_dir / "server.json"


def write_server_file(settings: Settings) -> None:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    server_file(settings).write_text(json.dumps({"url": settings.url, "pid": os.getpid()}))


def running_url(settings: Settings) -> str | None:
    """The URL of the project's running server, if its pid is alive."""
    path = server_file(settings)
    if not path.is_file():
        return None
    info = json.loads(path.read_text())
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(info["url"])


def prepare(settings: Settings) -> None:
    """Everything that must hold before binding: state folder, user token, free port."""
    check_port_free(settings.host, settings.port)
    prepare_state_dir(settings.state_dir)
    local_token(settings.secrets_dir, "user")
    local_token(settings.secrets_dir, "ops")


async def _check_memory(settings: Settings) -> None:
    client = qdrant_client_for(settings)
    try:
        await check_reachable(client, settings.qdrant_url)
        for prefix in (MEMORIES, TASKS, TICKETS):
            await ScopedIndex(client, prefix).check_model(settings.embedding_model)
    finally:
        await client.close()


def preflight(settings: Settings) -> None:
    """Fail fast, with the fix, on what would otherwise fail inside the server's start-up."""
    prepare(settings)
    try:
        asyncio.run(_check_memory(settings))
    except (IndexLocked, IndexMismatch, IndexUnreachable) as exc:
        raise ServeError(str(exc)) from None


class HephServer(uvicorn.Server):
    """uvicorn waits for every open response before it stops, and the board's event
    streams never end by themselves: tell them to end as shutdown begins."""

    def __init__(
        self, config: uvicorn.Config, on_shutdown: Callable[[], None], own_signals: bool = True
    ):
        super().__init__(config)
        self._on_shutdown = on_shutdown
        self._own_signals = own_signals

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """`heph up` handles signals itself: it stops its helpers (MCP clients of this very
        server) before the server, or they would fail mid-call against a closed port."""
        if not self._own_signals:
            yield
            return
        with super().capture_signals():
            yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets)


def http_server(
    settings: Settings,
    workflows: list[Workflow] | None = None,
    *,
    own_signals: bool = True,
    **options: Any,
) -> HephServer:
    """The whole app under uvicorn on the configured address; `options` go to uvicorn's
    Config (`heph up` keeps uvicorn's loggers for its own handlers and bounds shutdown)."""
    app = build_app(settings, workflows=workflows)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        **options,
    )
    return HephServer(config, app.state.stop_streams, own_signals)


def serve(
    settings: Settings,
    workflows: list[Workflow] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Blocking: serve until interrupted. `on_ready` runs once the checks pass (the banner)."""
    preflight(settings)
    if on_ready is not None:
        on_ready()
    server = http_server(settings, workflows)
    write_server_file(settings)
    try:
        server.run()
    finally:
        with suppress(FileNotFoundError):
            server_file(settings).unlink()
