"""The `heph` command: mcp-config lines, status tables, clear start-up failures."""

from __future__ import annotations

import asyncio
import json
import shlex
import socket

from typer.testing import CliRunner

from heph_mcp.client import HephClient, LocalServer
from heph_mcp.commands.cli import app
from heph_mcp.identity import local_token
from heph_mcp.printable import strip_terminal
from heph_mcp.settings import load_settings
from testkit import free_port

runner = CliRunner()


def test_mcp_config_prints_the_exact_claude_mcp_add_line(tmp_path):
    result = runner.invoke(app, ["mcp-config", "--project", str(tmp_path), "--port", "8123"])
    token = local_token(tmp_path / ".hephaestus" / "secrets", "user")
    assert result.exit_code == 0
    assert shlex.split(result.stdout) == [
        "claude",
        "mcp",
        "add",
        "--transport",
        "http",
        "hephaestus",
        "http://127.0.0.1:8123/mcp",
        "--header",
        f"Authorization: Bearer {token}",
    ]


def test_mcp_config_json_prints_url_and_headers(tmp_path):
    result = runner.invoke(app, ["mcp-config", "--json", "--project", str(tmp_path)])
    data = json.loads(result.stdout)
    assert data["url"] == "http://127.0.0.1:8000/mcp"
    assert data["headers"]["Authorization"].startswith("Bearer heph_user_")


def test_board_link_prints_the_login_link_of_the_board(tmp_path):
    result = runner.invoke(app, ["board-link", "--project", str(tmp_path), "--port", "8123"])
    token = local_token(tmp_path / ".hephaestus" / "secrets", "user")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"http://127.0.0.1:8123/?token={token}"


def test_serve_on_a_busy_port_names_the_cause_and_the_fix(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["serve", "--project", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use: pass --port N" in result.stderr


def test_serve_and_reindex_use_the_qdrant_server_given_and_name_the_fix_when_it_is_down(
    tmp_path,
):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    project = ["--project", str(tmp_path), "--qdrant-url", url]
    served = runner.invoke(app, ["serve", *project, "--port", str(free_port())])
    reindexed = runner.invoke(app, ["memory", "reindex", *project])
    for result in (served, reindexed):
        assert result.exit_code == 1
        assert f"cannot use the Qdrant server at {url} (" in result.stderr
        assert "drop --qdrant-url / HEPH_QDRANT_URL" in result.stderr
    assert "Hephaestus for" not in served.stdout  # no banner for a server that never ran
    assert not (tmp_path / ".hephaestus" / "qdrant").exists()  # the embedded index unused


def test_status_renders_runs_and_tasks_from_a_running_server(tmp_path, embedder):
    settings = load_settings(project=tmp_path, port=free_port())
    with LocalServer(settings, embedder=embedder) as server:
        started = asyncio.run(_start(server))
        result = runner.invoke(
            app,
            ["status", "--project", str(tmp_path)],
            env={"HEPH_PORT": str(settings.port), "COLUMNS": "200"},
        )
    assert result.exit_code == 0, result.output
    assert started["run_id"] in result.stdout and "queued" in result.stdout
    assert "bug_fix" in result.stdout


def test_status_without_a_server_says_how_to_start_one(tmp_path):
    port = free_port()
    result = runner.invoke(
        app, ["status", "--project", str(tmp_path)], env={"HEPH_PORT": str(port)}
    )
    assert result.exit_code == 1
    assert "cannot reach the server" in result.stderr and "heph up" in result.stderr


async def _start(server):
    async with server.client() as client:
        return await client.start_workflow("bug_fix", "status test")


def test_turning_the_sandbox_off_says_what_every_agent_can_then_read(tmp_path):
    done = CliRunner().invoke(app, ["launcher", "--project", str(tmp_path), "--no-sandbox"])
    assert done.exit_code == 1  # tmp_path is no repository: the checks still stop it
    warning = " ".join(done.output.split())
    assert "--no-sandbox: agents run unconfined" in warning
    assert ".hephaestus/secrets (the user and ops tokens)" in warning


def test_status_task_and_agent_show_the_live_view_with_agent_text_sanitised(tmp_path, embedder):
    settings = load_settings(project=tmp_path, port=free_port())
    with LocalServer(settings, embedder=embedder) as server:
        agent_id, task_id = asyncio.run(_running_agent(server, settings))
        env = {"HEPH_PORT": str(settings.port), "COLUMNS": "200"}
        shown = runner.invoke(app, ["status", "--project", str(tmp_path), "--agent", agent_id],
                              env=env)  # fmt: skip
        detail = runner.invoke(app, ["status", "--project", str(tmp_path), "--task", task_id],
                               env=env)  # fmt: skip
        missing = runner.invoke(app, ["status", "--project", str(tmp_path), "--agent", "ag-x"],
                                env=env)  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "collected 3 items" in shown.stdout and "3 passed" in shown.stdout
    assert "\x1b]0;" not in shown.stdout and "owned" not in shown.stdout
    assert detail.exit_code == 0, detail.output
    for text in ("status test", "Read the traceback first.", "parser.py", "heph/"):
        assert text in detail.stdout, text
    assert "\x1b[2J" not in detail.stdout
    assert missing.exit_code == 1 and "no agent 'ag-x'" in missing.stderr


async def _running_agent(server, settings):
    """A run with one agent, its pane tail and diff stat reported, one steer queued."""
    started = await _start(server)
    ops = HephClient(settings.url, local_token(settings.secrets_dir, "ops"))
    async with ops:
        await ops.call("claim_task", worker="w", slots=1)
        agent = await ops.call("register_agent", task_id=started["task_id"], worker="w",
                               session_name="s", cli="claude")  # fmt: skip
        pane = "\x1b[1mcollected 3 items\x1b[0m\n\x1b]0;owned\x07...\n3 passed"
        pane = strip_terminal(pane)  # as the launcher reports it: the server refuses raw escapes
        await ops.call("report_live_view", tails=[{"agent_id": agent["agent_id"], "text": pane}],
                       diffstats=[{"task_id": started["task_id"], "base": "heph/r",
                                   "files": 1, "insertions": 3, "deletions": 0,
                                   "text": " parser.py | 3 +++"}])  # fmt: skip
        await ops.call("record_analysis", agent_id=agent["agent_id"], judge="heuristic",
                       state="looping", alignment=0.2, summary="loops",
                       steering="Read the traceback first.")  # fmt: skip
    return agent["agent_id"], started["task_id"]


def test_serving_beyond_loopback_warns_that_tokens_travel_in_clear(tmp_path, monkeypatch):
    from rich.console import Console

    from heph_mcp.commands import cli

    said = Console(record=True, width=300)
    monkeypatch.setattr(cli, "errors", said)
    cli._exposure_line(load_settings(project=tmp_path, host="127.0.0.1"))
    assert said.export_text() == ""
    cli._exposure_line(load_settings(project=tmp_path, host="0.0.0.0"))
    text = said.export_text()
    assert "listening on 0.0.0.0: bearer tokens (user, ops, agents') travel in clear" in text
    assert "TLS reverse proxy" in text and "public_url" in text
