"""The operator's controls through the real launcher: a paused or spent run launches nothing
while its running agents carry on (until resumed, or its budget raised), and a stopped
agent's session ends with its work kept.

The launcher here is stepped by hand (each `step` settles sessions, then claims what it
can), so "it tried and launched nothing" is a fact of the test, not a guess about timing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from swarmkit import Swarm, scripted

from launcher import workspace
from launcher.launcher import Launcher

SECOND = {"phase": 2, "title": "Write the follow-up", "description": scripted("x", {"done": "ok"})}


@contextlib.asynccontextmanager
async def stepped(swarm: Swarm) -> AsyncIterator[Launcher]:
    launcher = swarm.launcher()
    await launcher.client.__aenter__()
    await asyncio.to_thread(workspace.private_folder, swarm.settings.private_dir, 2)
    await launcher.adopt()
    try:
        yield launcher
    finally:
        for session in list(launcher.sessions.values()):
            swarm.tmux.kill(session.session)
        await launcher.merges.close()
        await launcher.client.__aexit__(None, None, None)


async def step_until(launcher: Launcher, condition, limit: int = 150) -> None:
    for _ in range(limit):
        await launcher.step()
        if condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached within the launcher's steps")


def tasks_of(swarm: Swarm, run: str) -> dict[str, str]:
    with swarm.db() as db:
        rows = db.execute("SELECT title, status FROM tasks WHERE run_id = ?", (run,))
        return {r["title"]: r["status"] for r in rows}


async def test_a_paused_run_launches_nothing_while_its_running_agent_carries_on(swarm):
    gate = swarm.exchange / "go"
    goal = scripted("Plan.", {"wait_file": str(gate)}, {"create_task": SECOND}, {"done": "ok"})
    async with stepped(swarm) as launcher:
        run = await swarm.start(goal)
        await swarm.user.call("pause_run", run=run)
        await launcher.step()
        assert launcher.sessions == {} and swarm.tmux.panes() == {}

        await swarm.user.call("resume_run", run=run)
        await launcher.step()
        assert len(launcher.sessions) == 1
        await swarm.user.call("pause_run", run=run)
        gate.touch()  # the running agent works on while paused: it adds a task and reports
        await step_until(launcher, lambda: not launcher.sessions)
        await launcher.step()
        assert tasks_of(swarm, run) == {"Analyse the goal": "done", "Write the follow-up": "queued"}
        assert launcher.sessions == {} and swarm.tmux.panes() == {}

        await swarm.user.call("resume_run", run=run)
        await step_until(launcher, lambda: tasks_of(swarm, run)["Write the follow-up"] == "done")


async def test_a_run_over_its_budget_launches_nothing_and_its_agent_is_told_to_wrap_up(swarm):
    gate = swarm.exchange / "go"
    goal = scripted("Plan.", {"create_task": SECOND}, {"wait_file": str(gate)},
                    {"call_and_show": "whoami"}, {"done": "ok"})  # fmt: skip
    async with stepped(swarm) as launcher:
        started = await swarm.user.call(
            "start_workflow", workflow="scripted", goal=goal, params={"budget_tokens": "1000"}
        )
        run = started["run_id"]
        await launcher.step()
        (session,) = launcher.sessions.values()
        await swarm.wait(run, lambda s: len(s["phases"][1]["tasks"]) == 1)
        async with swarm.ops() as ops:
            spent = await ops.call(
                "record_usage", agent_id=session.agent_id,
                entries=[{"key": "m1", "model": "claude-sonnet-4-5", "input_tokens": 1000}],
            )  # fmt: skip
        await launcher.step()
        assert spent["budget_state"] == "over_budget"
        assert len(launcher.sessions) == 1  # the running agent is not killed, only told
        gate.touch()
        await step_until(launcher, lambda: not launcher.sessions)
        await launcher.step()
        status = (await swarm.user.call("workflow_status", run=run))["runs"][0]
    assert tasks_of(swarm, run) == {"Analyse the goal": "done", "Write the follow-up": "queued"}
    assert status["run"]["over_budget"] is True and swarm.tmux.panes() == {}
    pane = (swarm.settings.logs_dir / f"{session.session}.{session.agent_id}.log").read_text()
    assert "used its whole budget (100%)" in pane  # the guidance rode on its tool result

    async with stepped(swarm) as launcher:  # the user raises the cap: the run goes on
        await swarm.user.call("set_run_budget", run=run, budget_tokens=5000)
        await launcher.step()
        assert len(launcher.sessions) == 1
        await step_until(launcher, lambda: not launcher.sessions)
    assert tasks_of(swarm, run)["Write the follow-up"] == "done"


@pytest.mark.parametrize(("then", "status"), [("requeue", "queued"), ("fail", "failed")])
async def test_a_stopped_agent_is_ended_by_its_launcher_and_its_work_kept_on_its_branch(
    swarm, then, status
):
    goal = scripted("Plan.", {"write": "notes.md", "text": "half done\n"},
                    {"wait_file": str(swarm.exchange / "never")})  # fmt: skip
    async with stepped(swarm) as launcher:
        run = await swarm.start(goal)
        await launcher.step()
        (session,) = launcher.sessions.values()
        await step_until(launcher, lambda: (session.worktree / "notes.md").exists())
        await swarm.user.call("pause_run", run=run)  # keep the requeued task from relaunching
        await swarm.user.call(
            "stop_agent", agent_id=session.agent_id, then=then, reason="wrong approach"
        )
        await step_until(launcher, lambda: not launcher.sessions)
    assert tasks_of(swarm, run) == {"Analyse the goal": status}
    assert swarm.tmux.panes() == {}
    assert swarm.git("show", f"{session.branch}:notes.md") == "half done"
