"""An agent's reach is set by its token: arguments naming other runs or tasks change nothing."""

from __future__ import annotations

import pytest


@pytest.fixture
async def two_agents(heph):
    await heph.start_run(goal="run A")
    await heph.start_run(goal="run B")
    return await heph.launch_agent(), await heph.launch_agent()


async def test_an_agent_cannot_create_a_task_in_another_run(heph, two_agents):
    a, b = two_agents
    before = heph.snapshot()
    async with heph.client(a.token) as client:
        result = await client.call_tool(
            "create_task",
            {"run": b.run_id, "phase": 1, "title": "sneaky", "description": "x"},
            raise_on_error=False,
        )
    assert result.is_error and "own run" in result.content[0].text
    assert heph.snapshot() == before


async def test_an_agent_cannot_see_another_runs_tasks(heph, two_agents):
    a, b = two_agents
    async with heph.client(a.token) as client:
        other = await client.call_tool("get_task", {"task_id": b.task_id}, raise_on_error=False)
        listing = await client.call_tool("get_tasks", {"run": b.run_id}, raise_on_error=False)
        mine = (await client.call_tool("get_tasks", {})).structured_content["tasks"]
    assert other.is_error and "no task" in other.content[0].text
    assert listing.is_error
    assert {t["run_id"] for t in mine} == {a.run_id}


async def test_update_task_status_only_ever_changes_the_callers_own_task(heph, two_agents):
    a, b = two_agents
    async with heph.client(a.token) as client:
        # Extra arguments naming another task or agent are rejected by the schema.
        spoof = await client.call_tool(
            "update_task_status",
            {"status": "done", "summary": "x", "task_id": b.task_id, "agent_id": b.agent_id},
            raise_on_error=False,
        )
        assert spoof.is_error
        await client.call_tool("update_task_status", {"status": "done", "summary": "mine"})
    rows = dict(heph.db().execute("SELECT id, status FROM tasks").fetchall())
    assert rows[a.task_id] == "done" and rows[b.task_id] == "running"


async def test_an_agent_cannot_read_another_agents_brief(heph, two_agents):
    a, b = two_agents
    async with heph.client(a.token) as client:
        with pytest.raises(Exception, match="own brief"):
            await client.get_prompt("task_brief", {"task_id": b.task_id})


async def test_an_agent_cannot_read_another_runs_phase_instructions(heph, two_agents):
    a, b = two_agents
    async with heph.client(a.token) as client:
        with pytest.raises(Exception, match="not visible|no run"):
            await client.read_resource(f"heph://runs/{b.run_id}/phases/1")


async def test_a_forged_agent_token_is_refused_outright(heph, two_agents):
    a, _ = two_agents
    forged = a.token[:-4] + ("AAAA" if not a.token.endswith("AAAA") else "BBBB")
    assert await heph.list_tools_status({"Authorization": f"Bearer {forged}"}) == 401
