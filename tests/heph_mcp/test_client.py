"""The Python API, as a runner script uses it: define a workflow, serve, run, watch."""

from __future__ import annotations

import asyncio

import pytest

from heph_mcp.client import HephCallError, HephClient, LocalServer, all_tasks_finished
from heph_mcp.identity import local_token
from heph_mcp.settings import load_settings
from phases import Phase, Workflow
from testkit import free_port

TRIAGE = Workflow(
    name="triage",
    description="look, then fix",
    phases=[
        Phase(id=1, name="look", description="Find the cause", done_definitions=["cause named"]),
        Phase(id=2, name="fix", description="Fix it", done_definitions=["test passes"]),
    ],
)


async def _scripted_agent(url: str, ops_token: str, worker: str) -> int:
    """Stand-in for the launcher plus an agent: claim each task, finish it."""
    finished = 0
    async with HephClient(url, ops_token) as ops:
        while (claim := await ops.call("claim_task", worker=worker, slots=1))["task"]:
            task = claim["task"]
            session = await ops.call(
                "register_agent",
                task_id=task["id"],
                worker=worker,
                session_name=f"s-{task['id']}",
                cli="script",
            )
            async with HephClient(url, session["token"]) as agent:
                if task["phase"] == 1:
                    await agent.call(
                        "create_task",
                        phase="fix",
                        title="fix what was found",
                        description=f"follow-up of {task['id']}",
                    )
                await agent.call("update_task_status", status="done", summary="scripted")
            await ops.call("report_agent_exit", agent_id=session["agent_id"], reason="exit 0")
            finished += 1
    return finished


def test_a_runner_script_defines_a_workflow_runs_it_and_waits_for_it(tmp_path, embedder):
    settings = load_settings(project=tmp_path, port=free_port())
    with LocalServer(settings, workflows=[TRIAGE], embedder=embedder) as server:
        ops_token = local_token(settings.secrets_dir, "ops")

        async def script():
            async with server.client() as heph:
                run = await heph.start_workflow("triage", "unicode is dropped")
                await heph.create_task(
                    run["run_id"],
                    phase=2,
                    title="add a regression test",
                    description="tests/test_unicode.py",
                )
                finished = await _scripted_agent(settings.url, ops_token, "w1")
                status = await heph.wait_for(
                    run["run_id"], all_tasks_finished, timeout=30, interval=0.1
                )
            return finished, status

        finished, status = asyncio.run(script())
    assert finished == 3
    counts = {p["name"]: p["counts"] for p in status["phases"]}
    assert counts == {"look": {"done": 1}, "fix": {"done": 2}}


def test_a_tool_error_reaches_the_script_as_an_exception_with_the_reason(tmp_path, embedder):
    settings = load_settings(project=tmp_path, port=free_port())
    with LocalServer(settings, embedder=embedder) as server:

        async def script():
            async with server.client() as heph:
                await heph.start_workflow("no_such_workflow", "x")

        with pytest.raises(HephCallError, match="no workflow 'no_such_workflow'"):
            asyncio.run(script())
