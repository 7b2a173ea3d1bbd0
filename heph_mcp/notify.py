"""Change notifications for our helper processes, over MCP `subscriptions/listen`.

The launcher subscribes to `heph://queue` and hears at once when work may
have changed for it (a task queued or finished, a run cancelled), instead of
polling. Events carry only the URI; listeners refetch what they need, so an
event is never a channel for data a caller could not otherwise read.
"""

from __future__ import annotations

import mcp_types as types
from fastmcp import FastMCP
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    ResourceUpdated,
    SubscriptionBus,
)

QUEUE_URI = "heph://queue"
QUESTIONS_URI = "heph://questions"


class Notifier:
    """Publishes resource-updated events; a Notifier without a bus is silent (tests, scripts)."""

    def __init__(self, bus: SubscriptionBus | None = None):
        self.bus = bus

    async def queue_changed(self) -> None:
        if self.bus is not None:
            await self.bus.publish(ResourceUpdated(uri=QUEUE_URI))

    async def questions_changed(self) -> None:
        """An agent's request waits for the user, or was decided: MCP hosts refetch."""
        if self.bus is not None:
            await self.bus.publish(ResourceUpdated(uri=QUESTIONS_URI))


def serve_subscriptions(mcp: FastMCP) -> Notifier:
    """Answer `subscriptions/listen` on this server and return the notifier feeding it.

    fastmcp 4.2 builds its low-level server without a listen handler, so we
    register the SDK's own handler on it; the HTTP auth layer in front still
    requires a valid bearer token for the listen request.
    """
    bus = InMemorySubscriptionBus()
    mcp._mcp_server.add_request_handler(  # noqa: SLF001 - no public hook in fastmcp 4.2
        "subscriptions/listen", types.SubscriptionsListenRequestParams, ListenHandler(bus)
    )
    return Notifier(bus)
