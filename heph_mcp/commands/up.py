"""`heph up`: the server, the launcher and the Guardian in one process, on embedded defaults.

The server starts first; the launcher connects to it over MCP like any
other client (it never touches the database), and stops when the server
does. Agent sessions outlive `heph up`: the next start re-adopts them.

The terminal shows the event log (event_log.py) and warnings; everything else goes
to `.hephaestus/logs/` (logs.py). Ctrl-C returns within a few seconds: the helpers get
`HELPERS_GRACE` to finish what they are doing, then are cancelled (a restarted launcher
re-adopts sessions, releases claims and re-queues merges, as after a crash), and open
HTTP streams get `SERVER_GRACE` before uvicorn closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import cast

import uvicorn
from rich.console import Console
from starlette.applications import Starlette

from guardian.runner import run_guardian
from heph_mcp.commands.event_log import follow_events
from heph_mcp.commands.logs import debugging
from heph_mcp.serve import http_server, preflight, server_file, write_server_file
from heph_mcp.settings import Settings
from launcher.runner import preflight as launcher_preflight
from launcher.runner import run_launcher
from phases import Workflow

log = logging.getLogger("heph.up")
HELPERS_GRACE = 1.0
SERVER_GRACE = 1.0
SHUTDOWN_SECONDS = 5.0


def up(
    settings: Settings,
    workflows: list[Workflow] | None = None,
    on_ready: Callable[[], None] | None = None,
    console: Console | None = None,
) -> None:
    """Blocking: check everything first (each failure names its fix), then run both.

    The project is checked before anything is written into it; `on_ready` (the banner)
    runs once every check has passed. The event log goes to `console` (none without one).
    """
    launcher_preflight(settings)
    preflight(settings)
    if on_ready is not None:
        on_ready()
    asyncio.run(_up(settings, workflows, console))


async def _up(
    settings: Settings, workflows: list[Workflow] | None, console: Console | None
) -> None:
    server = http_server(
        settings, workflows, own_signals=False, log_config=None,
        access_log=debugging(settings), timeout_graceful_shutdown=SERVER_GRACE,
    )  # fmt: skip
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    events: asyncio.Task[None] | None = None
    try:
        await _started(server, serving)
        write_server_file(settings)
        if console is not None:
            app = cast(Starlette, server.config.app)
            events = asyncio.create_task(follow_events(app.state.services, console, stop))
        await _run_helpers(settings, stop, serving)
    finally:
        stop.set()
        if events is not None:
            await asyncio.wait({events}, timeout=HELPERS_GRACE)
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
    log.info("stopping; agent sessions keep running and are re-adopted on the next start")
    stop.set()
    stopping.cancel()
    _, late = await asyncio.wait(helpers, timeout=HELPERS_GRACE)
    for helper in late:  # mid-call (a judge, a git command): their work is safe to cut short
        log.info("cancelling %s after %.1f s", helper.get_coro(), HELPERS_GRACE)
        helper.cancel()
    await asyncio.wait(helpers, timeout=HELPERS_GRACE)
    for helper in helpers - late:  # a helper that failed by itself says why
        if not helper.cancelled() and helper.exception() is not None:
            raise helper.exception()  # type: ignore[misc]


async def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + 120
    while not server.started:
        if serving.done() or time.monotonic() > deadline:
            await serving
            raise RuntimeError("the server stopped during start-up; see the log above")
        await asyncio.sleep(0.05)
