"""Bearer tokens to principals, on every request.

Claude Code speaks the stateless protocol, so there is no session to pin an
identity to: each request carries its token and is resolved afresh. Only
sha256 hashes of agent tokens are stored; the user and ops tokens live in
0600 files under `.hephaestus/secrets/` because `heph mcp-config` and the
helper processes must be able to read them back.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite
from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.dependencies import get_access_token

from heph_mcp.errors import Forbidden
from heph_mcp.records import Principal, Role
from heph_mcp.state_dir import prepare_state_dir
from heph_mcp.store import Store

LOCAL_ROLES: tuple[Role, ...] = ("user", "ops")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_token(role: Role) -> str:
    # The prefix lets secret scanners and humans recognise a leaked token.
    return f"heph_{role}_{secrets.token_urlsafe(32)}"


def local_token(secrets_dir: Path, role: Role) -> str:
    """Read the user or ops token, creating it (mode 0600) on first use."""
    path = secrets_dir / f"{role}.token"
    if path.is_file():
        return path.read_text().strip()
    if not secrets_dir.parent.exists():  # the first command of a project: make it private
        prepare_state_dir(secrets_dir.parent)
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    token = mint_token(role)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


class Identity:
    """Maps tokens to principals; agent tokens are minted and revoked here."""

    def __init__(self, store: Store, secrets_dir: Path):
        self._store = store
        self._local = {hash_token(local_token(secrets_dir, r)): r for r in LOCAL_ROLES}
        self._agents: dict[str, Principal] = {}
        # Every agent revoked by this process: a lookup that read its row before the
        # revocation must neither cache it nor answer with it.
        self._revoked: set[str] = set()
        # When each agent last made a request: how the launcher knows an agent
        # really started. Liveness, not history, so it is kept in memory only.
        self.last_seen: dict[str, float] = {}

    async def resolve(self, token: str) -> Principal | None:
        digest = hash_token(token)
        for known, role in self._local.items():
            if hmac.compare_digest(known, digest):
                return Principal(id=role, role=role)
        principal = self._agents.get(digest) or await self._load_agent(digest)
        if principal is not None and principal.id in self._revoked:
            self._agents.pop(digest, None)
            return None
        if principal is not None:
            self.last_seen[principal.id] = time.time()
        return principal

    async def _load_agent(self, digest: str) -> Principal | None:
        row = await self._store.fetchone(
            "SELECT id, role, run_id, task_id FROM principals "
            "WHERE token_hash = ? AND revoked_at IS NULL",
            (digest,),
        )
        if row is None:
            return None
        principal = Principal(**dict(row))
        if principal.id not in self._revoked:
            self._agents[digest] = principal
        return principal

    async def mint_agent(
        self, db: aiosqlite.Connection, agent_id: str, run_id: str, task_id: str
    ) -> str:
        """Create the agent's principal inside the caller's transaction."""
        token = mint_token("agent")
        await db.execute(
            "INSERT INTO principals (id, role, token_hash, run_id, task_id, created_at) "
            "VALUES (?, 'agent', ?, ?, ?, ?)",
            (agent_id, hash_token(token), run_id, task_id, time.time()),
        )
        return token

    async def revoke(self, db: aiosqlite.Connection, principal_id: str) -> None:
        self._revoked.add(principal_id)
        await db.execute(
            "UPDATE principals SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (time.time(), principal_id),
        )
        self._agents = {h: p for h, p in self._agents.items() if p.id != principal_id}
        self.last_seen.pop(principal_id, None)


class HephTokenVerifier(TokenVerifier):
    """fastmcp auth provider: unknown or missing tokens get HTTP 401."""

    def __init__(self, resolve: Callable[[str], Awaitable[Principal | None]]):
        super().__init__()
        self._resolve = resolve

    async def verify_token(self, token: str) -> AccessToken | None:
        principal = await self._resolve(token)
        if principal is None:
            return None
        return AccessToken(
            token=token,
            client_id=principal.id,
            scopes=[principal.role],
            claims=principal.model_dump(),
        )


def current_principal() -> Principal:
    """The caller of the current request; identity never comes from arguments."""
    access = get_access_token()
    if access is None or "role" not in access.claims:
        raise Forbidden("no identity on this request: send Authorization: Bearer <token>")
    return Principal.model_validate(
        {k: access.claims.get(k) for k in ("id", "role", "run_id", "task_id")}
    )
