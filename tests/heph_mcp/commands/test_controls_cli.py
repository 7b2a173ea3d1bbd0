"""The operator's controls from a terminal, against a running server, and the cost in
`heph status`."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from heph_mcp.client import HephClient, LocalServer
from heph_mcp.commands.cli import app
from heph_mcp.identity import local_token
from heph_mcp.settings import load_settings
from testkit import free_port

runner = CliRunner()


def heph(settings, *args: str):
    return runner.invoke(
        app,
        [*args, "--project", str(settings.project)],
        env={"HEPH_PORT": str(settings.port), "COLUMNS": "200"},
    )


async def _start_and_claim(server, settings):
    async with server.client() as user:
        started = await user.call(
            "start_workflow", workflow="bug_fix", goal="fix the crash",
            params={"budget_tokens": "10000"},
        )  # fmt: skip
    ops = HephClient(settings.url, local_token(settings.secrets_dir, "ops"))
    async with ops:
        claim = await ops.call("claim_task", worker="w1", slots=2)
        agent = await ops.call(
            "register_agent", task_id=claim["task"]["id"], worker="w1", session_name="s1",
            cli="claude",
        )  # fmt: skip
        await ops.call(
            "record_usage", agent_id=agent["agent_id"],
            entries=[{"key": "m1", "model": "claude-sonnet-4-5", "input_tokens": 8500,
                      "output_tokens": 12}],
        )  # fmt: skip
    return started["run_id"], started["task_id"], agent["agent_id"]


def test_every_control_has_a_command_and_status_shows_the_cost_and_the_budget(tmp_path, embedder):
    settings = load_settings(project=tmp_path, port=free_port())
    with LocalServer(settings, embedder=embedder) as server:
        run, task, agent = asyncio.run(_start_and_claim(server, settings))
        told = heph(settings, "tell", "use the v2 API", "--task", task)
        paused = heph(settings, "pause", run)
        status = heph(settings, "status")
        resumed = heph(settings, "resume", run)
        high = heph(settings, "priority", task, "critical")
        stopped = heph(settings, "stop-agent", agent, "--reason", "wrong track", "--fail")
        retried = heph(settings, "retry", task)
        cancelled = heph(settings, "cancel-task", task, "--reason", "done by hand")
        again = heph(settings, "cancel-task", task, "--reason", "twice")
        raised = heph(settings, "budget", run, "--tokens", "20000")
    outputs = [told, paused, status, resumed, high, stopped, retried, cancelled, raised]
    assert [r.exit_code for r in outputs] == [0] * len(outputs), [r.output for r in outputs]
    assert f"queued for agent {agent}" in told.stdout
    assert "(paused)" in status.stdout and "8,500" in status.stdout
    assert "85% of 10,000 tok WARNING 80%" in status.stdout
    assert "(critical)" in high.stdout and f"task {task} is failed" in stopped.stdout
    assert f"task {task} is queued" in retried.stdout and "cancelled" in cancelled.stdout
    assert again.exit_code == 1 and "already cancelled" in again.stderr
    assert f"run {run} budget: 43% used (ok)" in raised.stdout
