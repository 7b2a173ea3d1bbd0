"""Board sessions: what the board's cookie holds instead of the user's token.

Cookies are not scoped by port, so a browser sends the board's cookie to every
service on 127.0.0.1 (an agent's dev server, say). The login link therefore
trades the user token for a random session id that lives only in this server's
memory: it expires, it can be closed (`/board/logout`, or a restart closes all),
and it is no token at all to the MCP endpoint.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from heph_mcp.records import Principal

SESSION_SECONDS = 8 * 3600
MAX_SESSIONS = 64  # one per browser that opened the link; the oldest goes first


@dataclass(frozen=True)
class BoardSession:
    principal: Principal
    expires: float


class BoardSessions:
    def __init__(
        self, ttl: float = SESSION_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._open: dict[str, BoardSession] = {}

    def open(self, principal: Principal) -> str:
        """A new session for `principal`; its id goes in the cookie."""
        now = self._clock()
        self._open = {k: s for k, s in self._open.items() if s.expires > now}
        while len(self._open) >= MAX_SESSIONS:
            self._open.pop(next(iter(self._open)))
        session_id = secrets.token_urlsafe(32)
        self._open[session_id] = BoardSession(principal, now + self.ttl)
        return session_id

    def resolve(self, session_id: str) -> Principal | None:
        session = self._open.get(session_id)
        if session is None:
            return None
        if session.expires <= self._clock():
            self._open.pop(session_id, None)
            return None
        return session.principal

    def close(self, session_id: str) -> None:
        self._open.pop(session_id, None)
