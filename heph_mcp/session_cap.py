"""Stateful MCP sessions per principal: a small allowance each, so no token locks others out.

Clients of the 2025 protocols open a session with `initialize` and keep it
until they close it (DELETE) or it idles out. The SDK caps sessions for the
whole server (10,000), so one token holder could fill the server in about
23 s. This middleware counts each principal's open sessions, as seen in the
`mcp-session-id` of their answers, and refuses an opening request over
`max_sessions_per_principal` with 429 and the reason. Stateless requests (the
2026 protocol, which our agents speak) open no session and are never counted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heph_mcp.records import Principal

SESSION_HEADER = "mcp-session-id"
Resolve = Callable[[str], Awaitable[Principal | None]]


@dataclass
class OpenSession:
    owner: str
    last_seen: float
    in_flight: int = 0


class SessionCap:
    def __init__(
        self,
        app: ASGIApp,
        resolve: Resolve,
        per_principal: int,
        idle_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.app = app
        self.resolve = resolve
        self.per_principal = per_principal
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.sessions: dict[str, OpenSession] = {}
        self.opening: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/mcp"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        session_id = headers.get(SESSION_HEADER)
        if session_id is not None:
            await self._in_session(session_id, scope, receive, send)
            return
        owner = await self._opener(scope, headers)
        if owner is None:
            await self.app(scope, receive, send)
            return
        if self.count(owner) >= self.per_principal:
            await self._refuse(scope, receive, send)
            return
        await self._open(owner, scope, receive, send)

    def count(self, owner: str) -> int:
        """The owner's open sessions (idle ones past the timeout are gone) and openings."""
        now = self.clock()
        self.sessions = {
            k: s
            for k, s in self.sessions.items()
            if s.in_flight or now - s.last_seen <= self.idle_seconds
        }
        return self.opening[owner] + sum(s.owner == owner for s in self.sessions.values())

    async def _opener(self, scope: Scope, headers: Headers) -> str | None:
        """Who asks, if this request may open a session (a 2025-protocol POST)."""
        version = headers.get("mcp-protocol-version")
        if scope["method"] != "POST" or version not in (None, *HANDSHAKE_PROTOCOL_VERSIONS):
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        principal = await self.resolve(token.strip())
        return principal.id if principal else None

    async def _open(self, owner: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request as an opening until its answer names the session it opened
        (its stream may run on after that), or until it ends without one."""
        pending = [True]

        def settle() -> None:
            if pending.pop() if pending else False:
                self.opening[owner] -= 1

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                opened = MutableHeaders(raw=message["headers"]).get(SESSION_HEADER)
                if opened and message["status"] < 400:
                    self.sessions[opened] = OpenSession(owner, self.clock())
                settle()
            await send(message)

        self.opening[owner] += 1
        try:
            await self.app(scope, receive, watch)
        finally:
            settle()

    async def _in_session(
        self, session_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        session = self.sessions.get(session_id)

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                gone = message["status"] == 404 or (
                    scope["method"] == "DELETE" and message["status"] < 300
                )
                if gone:
                    self.sessions.pop(session_id, None)
            await send(message)

        if session is not None:
            session.in_flight += 1
        try:
            await self.app(scope, receive, watch)
        finally:
            if session is not None:
                session.in_flight -= 1
                session.last_seen = self.clock()

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = (
            f"this token already has {self.per_principal} open MCP sessions"
            f" (max_sessions_per_principal): close one (HTTP DELETE with its mcp-session-id),"
            f" let one idle out ({self.idle_seconds:g} s), or use the stateless protocol"
        )
        body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": message}}
        await JSONResponse(body, status_code=429)(scope, receive, send)
