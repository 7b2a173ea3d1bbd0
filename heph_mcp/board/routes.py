"""The board's HTTP routes: the page at `/`, its JSON API and event stream under `/board/`.

Every route is GET (the board is read-only) and reads through the service
layer. The page and its scripts come from `static/` inside the package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from heph_mcp.board.auth import (
    COOKIE,
    NO_STORE,
    NO_TOKEN,
    Resolve,
    authorize,
    bearer_token,
)
from heph_mcp.board.live import pane_feed, task_detail_response
from heph_mcp.board.sessions import BoardSessions
from heph_mcp.board.snapshot import build_snapshot
from heph_mcp.board.sse import Streams, snapshot_events
from heph_mcp.errors import HephError
from heph_mcp.records import Principal
from heph_mcp.services import Services

STATIC = Path(__file__).parent / "static"
PAGE_HEADERS = {
    **NO_STORE,
    # Only our own files run: a task title that smuggles markup can never load a script.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none';"
        " form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MEMORY_LIMIT = 20


class SharedSnapshot:
    """One snapshot per store change, shared by every open page: ten pages watching used
    to rebuild it ten times after each commit. A page never sees it older than the last
    commit before its request."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._built_at: int | None = None
        self._snapshot: dict[str, Any] = {}

    async def get(
        self, changes: Callable[[], int], build: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        async with self._lock:
            seen = changes()
            if self._built_at != seen:
                self._snapshot, self._built_at = await build(), seen
            return self._snapshot

    def of(self, services: Services) -> Callable[[], Awaitable[dict[str, Any]]]:
        return lambda: self.get(lambda: services.store.changes, lambda: build_snapshot(services))


class Board:
    """The board's routes, bound to a server's services once they exist."""

    def __init__(
        self,
        services: Callable[[], Services | None],
        resolve: Resolve,
        sessions: BoardSessions | None = None,
    ):
        self._services = services
        self._resolve = resolve
        self.sessions = sessions or BoardSessions()
        self.streams = Streams()
        self._snapshot = SharedSnapshot()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/board/api/snapshot", self.snapshot, methods=["GET"]),
            Route("/board/api/memories", self.memories, methods=["GET"]),
            Route("/board/api/tasks/{task_id}", self.task_detail, methods=["GET"]),
            Route("/board/events", self.events, methods=["GET"]),
            Route("/board/logout", self.logout, methods=["GET"]),
            Mount("/board/static", app=StaticFiles(directory=STATIC), name="board-static"),
        ]

    async def page(self, request: Request) -> Response:
        link_token = request.query_params.get("token")
        if link_token is not None:
            return await self._login(link_token)
        caller = await self._caller(request)
        if not isinstance(caller, Principal):
            return caller
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    async def _login(self, token: str) -> Response:
        """The login link: trade the token in the URL for a board session in a cookie (never
        the token itself), then drop the token from the URL."""
        caller = await authorize(self._resolve, token)
        if not isinstance(caller, Principal):
            return caller
        session = self.sessions.open(caller)
        response = RedirectResponse("/", status_code=303, headers=PAGE_HEADERS)
        response.set_cookie(
            COOKIE, session, max_age=int(self.sessions.ttl), httponly=True,
            samesite="strict", path="/",
        )  # fmt: skip
        return response

    async def logout(self, request: Request) -> Response:
        """Close this browser's board session; the link signs in again."""
        self.sessions.close(request.cookies.get(COOKIE, ""))
        response = PlainTextResponse(
            "signed out of the Hephaestus board; `heph board-link` prints a new link\n",
            headers=NO_STORE,
        )
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def _caller(self, request: Request) -> Principal | Response:
        """The user, by an `Authorization: Bearer` token or by the cookie's board session."""
        token = bearer_token(request)
        if token is not None:
            return await authorize(self._resolve, token)
        session = request.cookies.get(COOKIE)
        principal = self.sessions.resolve(session) if session else None
        if principal is not None:
            return principal
        why = "Your board session has ended. " if session else ""
        return PlainTextResponse(why + NO_TOKEN, status_code=401, headers=NO_STORE)

    async def snapshot(self, request: Request) -> Response:
        signed_in = await self._signed_in(request)
        if isinstance(signed_in, Response):
            return signed_in
        _, services = signed_in
        return JSONResponse(await self._snapshot.of(services)(), headers=NO_STORE)

    async def memories(self, request: Request) -> Response:
        signed_in = await self._signed_in(request)
        if isinstance(signed_in, Response):
            return signed_in
        caller, services = signed_in
        query = request.query_params.get("q", "")
        run = request.query_params.get("run") or None
        try:
            hits = await services.memories.find(caller, query, limit=MEMORY_LIMIT, run=run)
        except HephError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=NO_STORE)
        return JSONResponse({"hits": [h.model_dump() for h in hits]}, headers=NO_STORE)

    async def events(self, request: Request) -> Response:
        signed_in = await self._signed_in(request)
        if isinstance(signed_in, Response):
            return signed_in
        _, services = signed_in
        store = services.store
        stream = snapshot_events(
            self._snapshot.of(services),
            lambda: store.changes,
            self.streams,
            panes=pane_feed(services),
        )
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={**NO_STORE, "X-Accel-Buffering": "no"},
        )

    async def task_detail(self, request: Request) -> Response:
        signed_in = await self._signed_in(request)
        if isinstance(signed_in, Response):
            return signed_in
        caller, services = signed_in
        return await task_detail_response(services, caller, request.path_params["task_id"])

    async def _signed_in(self, request: Request) -> tuple[Principal, Services] | Response:
        """The user and the services, or the answer that says why not (401, or 503 while
        the server starts)."""
        caller = await self._caller(request)
        if not isinstance(caller, Principal):
            return caller
        services = self._services()
        return (caller, services) if services is not None else _starting()


def _starting() -> Response:
    return PlainTextResponse("the server is still starting; retry in a moment\n", status_code=503)
