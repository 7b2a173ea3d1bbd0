"""Who may look at the board: the user, by the same token `heph mcp-config` prints.

The login link carries the token once (`/?token=...`); the server answers with
an HttpOnly, SameSite=Strict cookie holding a board session (sessions.py, never
the token) and a redirect to `/`, so the token leaves the address bar and the
page's scripts never see it. API and event requests send that cookie, or
`Authorization: Bearer` like any MCP client. Agent and
ops tokens are refused: the board shows every run, which only the user may see.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from heph_mcp.identity import local_token
from heph_mcp.records import Principal
from heph_mcp.settings import Settings

COOKIE = "heph_board"
Resolve = Callable[[str], Awaitable[Principal | None]]

NO_TOKEN = (
    "The Hephaestus board needs your user token. Open the login link that `heph up` prints,"
    " or print it again with `heph board-link --project <your repo>`.\n"
)
NOT_USER = "The board is for the user's token only; agent and ops tokens cannot open it.\n"


def board_url(settings: Settings) -> str:
    """The page's address: the MCP endpoint's origin."""
    return settings.url.removesuffix("/mcp") + "/"


def board_link(settings: Settings) -> str:
    """The login link. It holds the user token: print it only where the user asked for it."""
    token = local_token(settings.secrets_dir, "user")
    return f"{board_url(settings)}?token={quote(token, safe='')}"


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if the request has one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def authorize(resolve: Resolve, token: str | None) -> Principal | Response:
    """The user's principal, or the 401 / 403 to answer with."""
    if not token:
        return PlainTextResponse(NO_TOKEN, status_code=401, headers=NO_STORE)
    principal = await resolve(token)
    if principal is None:
        return PlainTextResponse(
            "That token is unknown. " + NO_TOKEN, status_code=401, headers=NO_STORE
        )
    if principal.role != "user":
        return PlainTextResponse(NOT_USER, status_code=403, headers=NO_STORE)
    return principal


NO_STORE = {"Cache-Control": "no-store"}


class RedactTokens(logging.Filter):
    """Blank `token=` query values in uvicorn's access log: the login link must not be logged."""

    PATTERN = re.compile(r"(token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.PATTERN.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def redact_access_log() -> None:
    """Install the filter once on uvicorn's access logger."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
