"""One token cannot use up the server's stateful MCP sessions (finding 11 of issue 15).

The SDK keeps at most 10,000 sessions for the whole server, each for 30 idle
minutes: one token holder opened all of them in about 23 s and locked every
session-based client out. Each principal now has its own small allowance.
"""

from __future__ import annotations

from heph_mcp.identity import local_token
from heph_mcp.settings import load_settings

INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "t", "version": "1"}},
}  # fmt: skip
ACCEPT = {"Accept": "application/json, text/event-stream"}


def _auth(token: str) -> dict[str, str]:
    return {**ACCEPT, "Authorization": f"Bearer {token}"}


async def test_a_token_over_its_session_allowance_is_refused_and_others_are_not(serve, tmp_path):
    settings = load_settings(project=tmp_path, port=8765, max_sessions_per_principal=3)
    async with serve(settings) as heph:
        user = local_token(settings.secrets_dir, "user")
        ops = local_token(settings.secrets_dir, "ops")
        async with heph.server.http_client() as http:
            opened = []
            for _ in range(3):
                response = await http.post("/mcp", json=INIT, headers=_auth(user))
                assert response.status_code == 200, (len(opened), response.text)
                opened.append(response.headers["mcp-session-id"])
            refused = await http.post("/mcp", json=INIT, headers=_auth(user))
            other = await http.post("/mcp", json=INIT, headers=_auth(ops))
            closed = await http.delete(
                "/mcp", headers={**_auth(user), "mcp-session-id": opened[0],
                                 "mcp-protocol-version": "2025-06-18"},
            )  # fmt: skip
            again = await http.post("/mcp", json=INIT, headers=_auth(user))
    assert refused.status_code == 429
    assert "3 open MCP sessions" in refused.text and "max_sessions_per_principal" in refused.text
    assert other.status_code == 200
    assert closed.status_code < 300
    assert again.status_code == 200
