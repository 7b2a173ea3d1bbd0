"""`heph up`'s terminal: one line per moment of a run (queued, started, done, validated,
merged, conflict, steered, failed), each with its run, task and title."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from heph_mcp.printable import printable
from heph_mcp.services import Services
from heph_mcp.services.event_feed import EventFeed, EventLine

STYLES = {
    "queued": "cyan", "started": "blue", "done": "green", "validated": "green",
    "merged": "bold green", "conflict": "yellow", "steered": "magenta", "failed": "bold red",
    "cancelled": "red", "stopped": "red", "paused": "yellow", "resumed": "cyan",
    "result": "bold cyan", "rejected": "yellow", "budget": "yellow", "completed": "bold green",
}  # fmt: skip


def render_line(line: EventLine) -> Text:
    """`12:04:31 merged    r1a2b3c4 t5e6f7a8 Write the parser` (markup in titles stays text)."""
    text = Text(time.strftime("%H:%M:%S ", time.localtime(line.at)), style="dim")
    text.append(f"{line.word:<9} ", style=STYLES.get(line.word, ""))
    text.append(
        f"{line.run_id} {line.task_id} " if line.task_id else f"{line.run_id} ", style="dim"
    )
    text.append(printable(line.title))  # agents write titles and failure reasons
    if line.note:
        text.append(f" ({printable(line.note)})", style="dim")
    return text


async def follow_events(
    services: Callable[[], Services | None],
    console: Console,
    stop: asyncio.Event,
    interval: float = 0.3,
) -> None:
    """Print the lines of events written after the start, until `stop`; a query runs only
    after the store committed something."""
    svc = services()
    while svc is None and not stop.is_set():
        await _pause(stop, interval)
        svc = services()
    if svc is None:
        return
    feed, seen = EventFeed(svc.store), -1
    after = await feed.latest()
    while not stop.is_set():
        if svc.store.changes != seen:
            seen = svc.store.changes
            after, lines = await feed.since(after)
            for line in lines:
                console.print(render_line(line), soft_wrap=True, highlight=False)
        await _pause(stop, interval)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
