"""What every HTTP request passes before any route sees it: its host, its origin, its size.

DNS rebinding lets a web page whose name resolves to 127.0.0.1 talk to a
loopback server as if it were its own origin; only the Host and Origin
headers tell it apart. A body's size is checked on the stream itself,
because a chunked body declares no length.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heph_mcp.settings import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORTS = {"http": 80, "https": 443}


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """Loopback names, the host of public_url, and a host the server was told to bind."""
    hosts = list(LOOPBACK)
    if settings.public_url and (public := urlsplit(settings.public_url).hostname):
        hosts.append(public.lower())
    if settings.host not in ("", "0.0.0.0", "::"):
        hosts.append(settings.host.strip("[]").lower())
    return tuple(dict.fromkeys(hosts))


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or URL, or None if it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS.get(scheme, 0)


class HostGuard:
    """403, with the reason and the fix, for a request addressed to a name we do not serve
    or sent by a web page of another origin."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.hosts = allowed_hosts(settings)
        self.public = origin_of(settings.public_url) if settings.public_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal:
                await PlainTextResponse(refusal, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> str:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        own = origin_of(f"{scope.get('scheme', 'http')}://{host}")
        if own is None or own[1] not in self.hosts:
            return (
                f"Hephaestus serves only requests for {', '.join(self.hosts)}; this one was for"
                f" {host[:100]!r}. A web page whose name leads to this machine (DNS rebinding)"
                " is refused. To use another name, set public_url (HEPH_PUBLIC_URL).\n"
            )
        origin = headers.get("origin")
        if origin is not None and origin_of(origin) not in (own, self.public):
            return (
                f"Requests from web pages of another origin ({origin[:100]!r}) are refused:"
                " open the board from the link `heph board-link` prints.\n"
            )
        return ""


class BodyLimit:
    """Refuse oversize requests before the app reads them: a clear 413, not memory
    exhaustion. A declared length is checked at once; a body without one (chunked) is
    read up to the limit first, then handed on."""

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...] = ()):
        self.app = app
        self.limit = limit
        self.exempt = exempt  # path prefixes whose bodies are no text (git's packs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        body = await self._read(receive)
        if body is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # the client left; the app sees an empty body
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return None
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"error": f"request body over {self.limit} bytes; send less text"}, status_code=413
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that first gives back the body already read, then the client's messages."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
