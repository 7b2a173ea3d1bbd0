"""The board's live feed: server-sent events carrying whole snapshots.

A snapshot is sent when the client connects and again whenever the store has
committed something that changes it. Change detection is the store's commit
counter, checked a few times a second (a comparison of two integers); the
snapshot itself is rebuilt only after a commit, and sent only if it differs.
A comment line every `heartbeat` seconds keeps proxies and the browser from
timing the stream out. Every stream ends when the server begins to stop, so
uvicorn never waits on one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

# The live pane tails: given the last sequence number a stream sent, the newest one and the
# tails changed since (see services/live.py). They travel as `panes` events of their own, so a
# tail that moves never resends the snapshot.
PaneFeed = Callable[[int], tuple[int, list[dict[str, Any]]]]


class Streams:
    """Ends every open event stream when the server starts shutting down."""

    def __init__(self) -> None:
        self.stopping = False

    def stop(self) -> None:
        self.stopping = True


async def snapshot_events(
    snapshot: Callable[[], Awaitable[dict[str, Any]]],
    changes: Callable[[], int],
    streams: Streams,
    *,
    poll: float = 0.25,
    heartbeat: float = 15.0,
    panes: PaneFeed | None = None,
) -> AsyncIterator[str]:
    """`event: snapshot` on connect and after each change, `event: panes` with the pane tails
    that changed; `: ping` comments in between."""
    seen = changes()
    last = json.dumps(await snapshot(), separators=(",", ":"))
    yield _event("snapshot", last)
    pane_seq = 0
    quiet_since = time.monotonic()
    while not streams.stopping:
        if panes is not None:
            pane_seq, tails = panes(pane_seq)
            if tails:
                quiet_since = time.monotonic()
                yield _event("panes", json.dumps({"tails": tails}, separators=(",", ":")))
        await asyncio.sleep(poll)
        current = changes()
        if current != seen:
            seen = current
            body = json.dumps(await snapshot(), separators=(",", ":"))
            if body != last:
                last = body
                quiet_since = time.monotonic()
                yield _event("snapshot", body)
                continue
        if time.monotonic() - quiet_since >= heartbeat:
            quiet_since = time.monotonic()
            yield ": ping\n\n"


def _event(name: str, data: str) -> str:
    # json.dumps never emits a raw newline, so the data fits on one `data:` line.
    return f"event: {name}\ndata: {data}\n\n"
