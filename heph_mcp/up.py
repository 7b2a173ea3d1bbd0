"""`heph up`: the server, the launcher and the Guardian in one process, on embedded defaults.

The server starts first; the launcher connects to it over MCP like any
other client (it never touches the database), and stops when the server
does. Agent sessions outlive `heph up`: the next start re-adopts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import uvicorn

from guardian.runner import run_guardian
from heph_mcp.board import board_link
from heph_mcp.serve import http_server, preflight, server_file, write_server_file
from heph_mcp.settings import Settings
from launcher.runner import preflight as launcher_preflight
from launcher.runner import run_launcher
from phases import Workflow


def up(settings: Settings, workflows: list[Workflow] | None = None) -> None:
    """Blocking: check everything first (each failure names its fix), then run both."""
    preflight(settings)
    launcher_preflight(settings)
    asyncio.run(_up(settings, workflows))


async def _up(settings: Settings, workflows: list[Workflow] | None) -> None:
    server = http_server(settings, workflows)
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    try:
        await _started(server, serving)
        write_server_file(settings)
        # The one place the board's login link (it holds the user token) is printed.
        print(f"Board (live view of the swarm): {board_link(settings)}", flush=True)
        helpers = {
            asyncio.create_task(run_launcher(settings, stop, url=settings.url)),
            asyncio.create_task(run_guardian(settings, stop, url=settings.url)),
        }
        await asyncio.wait({serving, *helpers}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        server.should_exit = True
        await asyncio.gather(serving, *helpers)
    finally:
        with contextlib.suppress(FileNotFoundError):
            server_file(settings).unlink()


async def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + 120
    while not server.started:
        if serving.done() or time.monotonic() > deadline:
            await serving
            raise RuntimeError("the server stopped during start-up; see the log above")
        await asyncio.sleep(0.05)
