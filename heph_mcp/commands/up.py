"""`heph up`: the server, the launcher and the Guardian in one process, on embedded defaults.

The server starts first; the launcher connects to it over MCP like any
other client (it never touches the database), and stops when the server
does. Agent sessions outlive `heph up`: the next start re-adopts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable

import uvicorn

from guardian.runner import run_guardian
from heph_mcp.serve import http_server, preflight, server_file, write_server_file
from heph_mcp.settings import Settings
from launcher.runner import preflight as launcher_preflight
from launcher.runner import run_launcher
from phases import Workflow

SHUTDOWN_SECONDS = 30.0


def up(
    settings: Settings,
    workflows: list[Workflow] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Blocking: check everything first (each failure names its fix), then run both.

    The project is checked before anything is written into it; `on_ready` (the banner)
    runs once every check has passed.
    """
    launcher_preflight(settings)
    preflight(settings)
    if on_ready is not None:
        on_ready()
    asyncio.run(_up(settings, workflows))


async def _up(settings: Settings, workflows: list[Workflow] | None) -> None:
    server = http_server(settings, workflows, own_signals=False)
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _started(server, serving)
        write_server_file(settings)
        await _run_helpers(settings, stop, serving)
    finally:
        server.should_exit = True
        await asyncio.wait({serving}, timeout=SHUTDOWN_SECONDS)
        with contextlib.suppress(FileNotFoundError):
            server_file(settings).unlink()


async def _run_helpers(
    settings: Settings, stop: asyncio.Event, serving: asyncio.Task[None]
) -> None:
    """Run launcher and Guardian until a signal, the server or a helper ends; stop them first."""
    helpers = {
        asyncio.create_task(run_launcher(settings, stop, url=settings.url)),
        asyncio.create_task(run_guardian(settings, stop, url=settings.url)),
    }
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping, *helpers}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    stopping.cancel()
    await asyncio.wait(helpers, timeout=SHUTDOWN_SECONDS)
    for helper in helpers:
        if helper.done() and not helper.cancelled() and helper.exception() is not None:
            raise helper.exception()  # type: ignore[misc]


async def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + 120
    while not server.started:
        if serving.done() or time.monotonic() > deadline:
            await serving
            raise RuntimeError("the server stopped during start-up; see the log above")
        await asyncio.sleep(0.05)
