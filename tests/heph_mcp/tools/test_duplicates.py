"""create_task finds near-identical tasks (duplicate) and similar ones (related)."""

from __future__ import annotations

import pytest

ORIGINAL = {
    "title": "Empty config file crashes the loader",
    "description": "settings.py throws KeyError when hephaestus.toml exists but is empty."
    " It should fall back to the defaults.",
}
SAME_WORK = {
    "title": "Fix crash when config file is empty",
    "description": "Loading an empty hephaestus.toml raises KeyError in settings.py;"
    " treat an empty file as defaults.",
}
NEARBY = {
    "title": "Validate unknown keys in the config file",
    "description": "settings.py silently ignores misspelled keys in hephaestus.toml;"
    " report them as errors.",
}
ELSEWHERE = {
    "title": "Add a logo to the login page",
    "description": "Marketing wants the new logo shown above the login form.",
}


@pytest.fixture
async def agent(heph):
    await heph.start_run()
    return await heph.launch_agent()


async def _create(client, phase=2, **text):
    result = await client.call_tool("create_task", {"phase": phase, **text})
    return result.structured_content


async def test_the_same_work_in_the_same_phase_is_recorded_as_a_duplicate(heph, agent):
    async with heph.client(agent.token) as client:
        original = await _create(client, **ORIGINAL)
        again = await _create(client, **SAME_WORK)
    assert again["status"] == "duplicate" and again["duplicate_of"] == original["id"]
    assert again["related"][0]["id"] == original["id"]
    queued = heph.db().execute("SELECT COUNT(*) FROM tasks WHERE status = 'queued'").fetchone()
    assert queued[0] == 1


async def test_the_same_work_in_another_phase_is_not_a_duplicate(heph, agent):
    async with heph.client(agent.token) as client:
        await _create(client, phase=2, **ORIGINAL)
        verify = await _create(client, phase=3, **SAME_WORK)
    assert verify["status"] == "queued"
    assert verify["related"] and verify["related"][0]["phase"] == 2


async def test_a_similar_task_is_created_and_linked_both_ways(heph, agent):
    async with heph.client(agent.token) as client:
        original = await _create(client, **ORIGINAL)
        nearby = await _create(client, **NEARBY)
        elsewhere = await _create(client, **ELSEWHERE)
        shown = (await client.call_tool("get_task", {"task_id": original["id"]})).structured_content
    assert nearby["status"] == "queued"
    assert [r["id"] for r in nearby["related"]] == [original["id"]]
    assert elsewhere["related"] == []
    assert [r["id"] for r in shown["related"]] == [nearby["id"]]


async def test_a_failed_task_does_not_make_new_work_a_duplicate(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        first = await _create(client, phase=1, **ORIGINAL)
    async with heph.ops() as ops:
        for _ in range(heph.settings.max_attempts):  # fail the task by exhausting attempts
            claim = await ops.call_tool("claim_task", {"worker": "w2", "slots": 9})
            task = claim.structured_content["task"]
            session = await ops.call_tool(
                "register_agent",
                {"task_id": task["id"], "worker": "w2", "session_name": "s", "cli": "c"},
            )
            await ops.call_tool(
                "report_agent_exit",
                {"agent_id": session.structured_content["agent_id"], "reason": "died"},
            )
    status = heph.db().execute("SELECT status FROM tasks WHERE id = ?", (first["id"],)).fetchone()
    assert status[0] == "failed"
    async with heph.client(agent.token) as client:
        retry = await _create(client, phase=1, **SAME_WORK)
    assert retry["status"] == "queued"


async def test_a_duplicate_of_the_runs_first_task_is_caught(heph):
    started = await heph.start_run(goal="the loader crashes when the config file is empty")
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        again = await _create(
            client,
            phase=1,
            title="Reproduce: empty config file crashes the loader",
            description="A bug was reported: loading an empty config file crashes. Reproduce it "
            "and find the root cause.",
        )
    assert again["status"] == "duplicate" and again["duplicate_of"] == started["task_id"]
