"""DNS rebinding: only loopback hosts and the host of public_url reach the server."""

from __future__ import annotations

import pytest

from heph_mcp.identity import local_token
from heph_mcp.settings import load_settings

PATHS = ("/mcp", "/", "/board/api/snapshot", "/hooks/permission-request", "/healthz")


def _user(heph) -> dict[str, str]:
    return {"Authorization": f"Bearer {local_token(heph.settings.secrets_dir, 'user')}"}


async def test_a_request_for_another_host_name_is_refused_with_403_saying_why(heph):
    async with heph.server.http_client() as http:
        for path in PATHS:
            response = await http.get(path, headers={**_user(heph), "Host": "rebind.example"})
            assert response.status_code == 403, path
            assert "rebind.example" in response.text and "127.0.0.1" in response.text, path


async def test_a_page_of_another_origin_is_refused_even_on_a_loopback_host(heph):
    async with heph.server.http_client() as http:
        for origin in ("http://rebind.example", "http://127.0.0.1:1"):
            response = await http.get(
                "/board/api/snapshot", headers={**_user(heph), "Origin": origin}
            )
            assert response.status_code == 403, origin
            assert "origin" in response.text.lower()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.1:8765"])
async def test_loopback_hosts_are_served(heph, host):
    async with heph.server.http_client() as http:
        response = await http.get("/board/api/snapshot", headers={**_user(heph), "Host": host})
    assert response.status_code == 200


async def test_the_host_and_origin_of_public_url_are_served(serve, tmp_path):
    settings = load_settings(project=tmp_path, port=8765, public_url="https://heph.example.org")
    async with serve(settings) as heph, heph.server.http_client() as http:
        headers = {**_user(heph), "Host": "heph.example.org"}
        ok = await http.get("/board/api/snapshot", headers=headers)
        same = await http.get(
            "/board/api/snapshot", headers={**headers, "Origin": "https://heph.example.org"}
        )
        other = await http.get("/healthz", headers={"Host": "rebind.example"})
    assert ok.status_code == 200 and same.status_code == 200
    assert other.status_code == 403
