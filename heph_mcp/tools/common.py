"""Helpers every tool module shares: role checks, limits and the service accessor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastmcp import Context
from fastmcp.utilities.authorization import AuthContext

from heph_mcp.services import Services

ID_MAX = 64


def roles(*allowed: str) -> Any:
    """Auth check: the caller's role is one of `allowed`; used for listing and calling."""
    wanted = frozenset(allowed)

    def check(ctx: AuthContext) -> bool:
        return ctx.token is not None and bool(wanted & set(ctx.token.scopes))

    check.__name__ = "roles_" + "_".join(sorted(wanted))
    return check


def services(ctx: Context) -> Services:
    return ctx.lifespan_context["services"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Limits:
    """Sizes the schemas enforce, from settings, so oversize input never reaches the store."""

    text: int
    title: int = 200
    list_items: int = 50


READ_ONLY = {
    "readOnlyHint": True,
    "destructiveHint": False,
    "idempotentHint": True,
    "openWorldHint": False,
}
ADDITIVE = {
    "readOnlyHint": False,
    "destructiveHint": False,
    "idempotentHint": False,
    "openWorldHint": False,
}
IDEMPOTENT_WRITE = {
    "readOnlyHint": False,
    "destructiveHint": False,
    "idempotentHint": True,
    "openWorldHint": False,
}
DESTRUCTIVE = {
    "readOnlyHint": False,
    "destructiveHint": True,
    "idempotentHint": True,
    "openWorldHint": False,
}
