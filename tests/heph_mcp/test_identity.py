"""Local tokens are private files; agent tokens are stored only as hashes."""

from __future__ import annotations

import stat

from heph_mcp.identity import hash_token, local_token


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
