"""What wakes the launcher's loop: a queue change pushed by the server, or its own poll.

A subscription can drop (a server restart, a proxy); polling covers the gap, so the
listener only ever logs and re-subscribes.
"""

from __future__ import annotations

import asyncio
import logging

from heph_mcp.client import HephClient
from heph_mcp.notify import QUEUE_URI

log = logging.getLogger("heph.launcher")


async def listen_queue(client: HephClient, wake: asyncio.Event, poll_interval: float) -> None:
    """Wake the loop on every queue change; re-subscribe after a dropped stream."""
    while True:
        try:
            async with client.listen(QUEUE_URI) as subscription:
                wake.set()  # refetch: nothing is replayed after a re-subscribe
                async for _event in subscription:
                    wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - top-level of the listener task: polling covers
            log.warning("queue subscription lost (%s); polling until it is back", exc)
        await asyncio.sleep(min(5.0, poll_interval))


async def wait_any(wake: asyncio.Event, stop: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
    await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
