"""The real thing: `heph serve` under uvicorn on a free port, over streamable HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from fastmcp import Client

from heph_mcp.identity import local_token
from testkit import ServerProcess

pytestmark = pytest.mark.slow
NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    project = tmp_path_factory.mktemp("http")
    running = ServerProcess(project).start()
    yield running
    running.stop()


def _user_token(server: ServerProcess) -> str:
    return local_token(server.project / ".hephaestus" / "secrets", "user")


async def test_a_streamable_http_client_with_a_bearer_token_drives_a_run(server):
    async with Client(server.url, auth=_user_token(server)) as client:
        names = {t.name for t in await client.list_tools()}
        started = (
            await client.call_tool(
                "start_workflow", {"workflow": "bug_fix", "goal": "over real HTTP"}
            )
        ).structured_content
        status = await client.call_tool("workflow_status", {"run": started["run_id"]})
    assert "start_workflow" in names and "claim_task" not in names
    assert status.structured_content["runs"][0]["phases"][0]["counts"] == {"queued": 1}


def test_the_server_answers_401_without_a_token(server):
    response = httpx.post(
        server.url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401


def test_the_server_binds_loopback_only(server):
    info = json.loads((server.project / ".hephaestus" / "server.json").read_text())
    assert info["url"].startswith("http://127.0.0.1:")


def _inspector(server: ServerProcess, tmp_path: Path, *args: str) -> dict:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx not found: apt-get install npm, then bash .ci/setup --dev")
    env = {**os.environ, "HOME": str(tmp_path), "MCP_CATALOG_PATH": str(tmp_path / "mcp.json")}
    proc = subprocess.run(
        [
            npx,
            "--no-install",
            "@modelcontextprotocol/inspector",
            "--cli",
            server.url,
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {_user_token(server)}",
            *args,
        ],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_the_mcp_inspector_cli_lists_tools_and_starts_a_workflow(server, tmp_path):
    listed = _inspector(server, tmp_path, "--method", "tools/list")
    assert {"start_workflow", "workflow_status"} <= {t["name"] for t in listed["tools"]}
    called = _inspector(
        server,
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "start_workflow",
        "--tool-arg",
        "workflow=bug_fix",
        "--tool-arg",
        "goal=from the inspector",
    )
    assert called["structuredContent"]["workflow"] == "bug_fix"
    resources = _inspector(
        server, tmp_path, "--method", "resources/read", "--uri", "heph://workflows"
    )
    assert "bug_fix" in resources["contents"][0]["text"]
    prompts = _inspector(server, tmp_path, "--method", "prompts/list")
    assert "task_brief" in {p["name"] for p in prompts["prompts"]}
