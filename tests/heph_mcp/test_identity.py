"""Local tokens are private files; agent tokens are stored only as hashes."""

from __future__ import annotations

import asyncio
import stat

from heph_mcp.identity import Identity, hash_token, local_token
from heph_mcp.store import Store


def test_the_user_token_is_created_once_with_owner_only_permissions(tmp_path):
    first = local_token(tmp_path / "secrets", "user")
    second = local_token(tmp_path / "secrets", "user")
    mode = stat.S_IMODE((tmp_path / "secrets" / "user.token").stat().st_mode)
    assert first == second and first.startswith("heph_user_")
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700


def test_user_and_ops_tokens_differ(tmp_path):
    assert local_token(tmp_path, "user") != local_token(tmp_path, "ops")


async def test_agent_tokens_never_reach_the_database_in_clear(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    raw = heph.settings.db_path.read_bytes()
    wal = heph.settings.db_path.with_name("heph.db-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert agent.token.encode() not in raw
    stored = (
        heph.db()
        .execute("SELECT token_hash FROM principals WHERE id = ?", (agent.agent_id,))
        .fetchone()[0]
    )
    assert stored == hash_token(agent.token)


async def test_a_lookup_in_flight_during_revocation_never_keeps_the_revoked_agent(tmp_path):
    """The lookup read the agent's row before the revocation; whatever it answers, the
    revoked token must not be cached and accepted afterwards."""
    store = await Store.open(tmp_path / "heph.db")
    try:
        identity = Identity(store, tmp_path / "secrets")
        async with store.transaction() as db:
            token = await identity.mint_agent(db, "a1", None, None)  # type: ignore[arg-type]
        read, resume = asyncio.Event(), asyncio.Event()
        real = store.fetchone

        async def read_then_wait(sql, params=()):
            row = await real(sql, params)
            read.set()
            await resume.wait()
            return row

        store.fetchone = read_then_wait  # type: ignore[method-assign]
        lookup = asyncio.create_task(identity.resolve(token))
        await asyncio.wait_for(read.wait(), 10)
        async with store.transaction() as db:
            await identity.revoke(db, "a1")
        resume.set()
        await asyncio.wait_for(lookup, 10)
        store.fetchone = real  # type: ignore[method-assign]
        assert await identity.resolve(token) is None
    finally:
        await store.close()
