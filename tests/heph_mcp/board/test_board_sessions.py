"""The board's cookie is a server-side session, never the user token (finding 1 of issue 15).

Cookies are not scoped by port: whatever the cookie holds reaches every local
service. It must be useless over MCP, expire, and be closable.
"""

from __future__ import annotations

from heph_mcp.board.auth import COOKIE
from heph_mcp.board.sessions import BoardSessions
from heph_mcp.identity import local_token
from heph_mcp.records import Principal

INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "t", "version": "1"}},
}  # fmt: skip
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


async def _login(http, token: str) -> str:
    login = await http.get(f"/?token={token}")
    assert login.status_code == 303
    assert token not in login.headers["set-cookie"]
    return login.cookies[COOKIE]


async def test_the_cookie_holds_a_session_that_opens_the_board_but_not_mcp(heph):
    token = local_token(heph.settings.secrets_dir, "user")
    async with heph.server.http_client() as http:
        session = await _login(http, token)
        assert session and session != token and token not in session
        page = await http.get("/", headers={"Cookie": f"{COOKIE}={session}"})
        snap = await http.get("/board/api/snapshot", headers={"Cookie": f"{COOKIE}={session}"})
        mcp = await http.post(
            "/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {session}"}
        )
        link = await http.get(f"/?token={session}")
    assert page.status_code == 200 and snap.status_code == 200
    assert mcp.status_code == 401
    assert link.status_code == 401


async def test_the_raw_user_token_in_the_cookie_opens_nothing(heph):
    token = local_token(heph.settings.secrets_dir, "user")
    async with heph.server.http_client() as http:
        page = await http.get("/board/api/snapshot", headers={"Cookie": f"{COOKIE}={token}"})
    assert page.status_code == 401


async def test_logging_out_closes_the_session(heph):
    token = local_token(heph.settings.secrets_dir, "user")
    async with heph.server.http_client() as http:
        session = await _login(http, token)
        out = await http.get("/board/logout", headers={"Cookie": f"{COOKIE}={session}"})
        after = await http.get("/board/api/snapshot", headers={"Cookie": f"{COOKIE}={session}"})
    assert out.status_code == 200 and "signed out" in out.text
    assert f"{COOKIE}=" in out.headers["set-cookie"]  # the browser drops it too
    assert after.status_code == 401 and "heph board-link" in after.text


def test_a_session_expires_after_its_lifetime():
    now = [1000.0]
    sessions = BoardSessions(ttl=60, clock=lambda: now[0])
    user = Principal(id="user", role="user")
    session = sessions.open(user)
    now[0] += 59
    assert sessions.resolve(session) == user
    now[0] += 2
    assert sessions.resolve(session) is None
    assert sessions.resolve("made-up") is None
