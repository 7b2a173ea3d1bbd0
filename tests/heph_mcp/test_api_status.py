"""`GET /api/status` over real HTTP: a server on a loopback port, asked the way curl asks."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from heph_mcp.client import HephClient, LocalServer
from heph_mcp.identity import local_token
from heph_mcp.memory.embedder import LocalEmbedder
from heph_mcp.settings import Settings, load_settings
from testkit import free_port


@pytest.fixture
def server(tmp_path: Path, embedder: LocalEmbedder) -> Iterator[LocalServer]:
    settings = load_settings(project=tmp_path, port=free_port())
    with LocalServer(settings, embedder=embedder) as running:
        yield running


def _url(settings: Settings, query: str = "") -> str:
    return settings.url.removesuffix("/mcp") + "/api/status" + query


def _get(settings: Settings, token: str | None, query: str = "") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(_url(settings, query), headers=headers)


async def _busy_run(server: LocalServer) -> tuple[str, str]:
    """A run with one running agent the Guardian has judged, and one more queued task."""
    async with server.client() as user:
        run = (await user.start_workflow("bug_fix", "the parser crashes"))["run_id"]
        await user.create_task(run, 2, "Guard the parser", "return early on empty input")
    ops_token = local_token(server.settings.secrets_dir, "ops")
    async with HephClient(server.settings.url, ops_token) as ops:
        claim = await ops.call("claim_task", worker="w1", slots=4)
        agent = await ops.call(
            "register_agent", task_id=claim["task"]["id"], worker="w1",
            session_name="heph-s1", cli="claude",
        )  # fmt: skip
        await ops.call(
            "record_analysis", agent_id=agent["agent_id"], judge="heuristic", state="stuck",
            alignment=0.4, summary="the same error three times",
        )  # fmt: skip
    return run, agent["agent_id"]


async def test_the_status_lists_runs_tasks_by_status_and_agents_with_their_guardian_state(server):
    run, agent_id = await _busy_run(server)
    response = _get(server.settings, local_token(server.settings.secrets_dir, "user"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert [(r["id"], r["workflow"], r["status"]) for r in body["runs"]] == [
        (run, "bug_fix", "active")
    ]
    assert body["runs"][0]["tasks"] == {"queued": 1, "running": 1}
    assert [p["tasks"] for p in body["runs"][0]["phases"]] == [{"running": 1}, {"queued": 1}, {}]
    assert body["tasks"] == {"queued": 1, "running": 1}
    [agent] = body["agents"]
    assert (agent["id"], agent["run_id"], agent["task_title"]) == (
        agent_id, run, "Reproduce: the parser crashes"
    )  # fmt: skip
    assert agent["guardian"]["state"] == "stuck" and agent["guardian"]["alignment"] == 0.4
    assert agent["guardian"]["summary"] == "the same error three times"


async def test_one_run_is_asked_for_by_its_id_and_an_unknown_one_is_404(server):
    run, _ = await _busy_run(server)
    async with server.client() as user:
        other = (await user.start_workflow("documentation", "the docs"))["run_id"]
    token = local_token(server.settings.secrets_dir, "user")
    one = _get(server.settings, token, f"?run={other}").json()
    assert [r["id"] for r in one["runs"]] == [other] and one["agents"] == []
    assert one["tasks"] == {"queued": 1}
    missing = _get(server.settings, token, "?run=r-nope")
    assert missing.status_code == 404 and "no run 'r-nope'" in missing.json()["error"]
    assert {r["id"] for r in _get(server.settings, token).json()["runs"]} == {run, other}


def test_no_token_or_an_unknown_one_is_401_and_says_which_token_to_send(server):
    for token in (None, "not-a-token"):
        response = _get(server.settings, token)
        assert response.status_code == 401, token
        assert "Authorization: Bearer" in response.json()["error"]
        assert "runs" not in response.json()


async def test_agent_and_ops_tokens_are_refused_with_403(server):
    _, _ = await _busy_run(server)
    ops = local_token(server.settings.secrets_dir, "ops")
    async with HephClient(server.settings.url, ops) as client:
        claim = await client.call("claim_task", worker="w1", slots=4)
        agent = await client.call(
            "register_agent", task_id=claim["task"]["id"], worker="w1",
            session_name="heph-s2", cli="claude",
        )  # fmt: skip
    for token, role in ((ops, "ops"), (agent["token"], "agent")):
        response = _get(server.settings, token)
        assert response.status_code == 403 and role in response.json()["error"], role


async def test_curl_gets_it_as_the_readme_shows(server):
    run, _ = await _busy_run(server)
    token = local_token(server.settings.secrets_dir, "user")
    header = server.settings.state_dir / "curl-header"  # the token stays out of argv
    header.write_text(f"Authorization: Bearer {token}\n")
    done = subprocess.run(
        ["curl", "-sf", "-H", f"@{header}", _url(server.settings)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["runs"][0]["id"] == run
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "/api/status" in readme and "Authorization: Bearer" in readme
