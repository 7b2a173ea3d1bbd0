"""Task tools: agents add work to any phase of their run and finish only their own task."""

from __future__ import annotations


async def _create(client, **args):
    base = {"phase": 2, "title": "fix the parser", "description": "empty input crashes"}
    return await client.call_tool("create_task", {**base, **args}, raise_on_error=False)


async def test_an_agent_creates_tasks_in_any_phase_of_its_own_run(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        by_id = (await _create(client, phase=3)).structured_content
        by_name = (
            await _create(client, phase="reproduce", title="look at unicode too")
        ).structured_content
    assert (by_id["phase"], by_id["phase_name"], by_id["run_id"]) == (3, "verify", agent.run_id)
    assert (by_name["phase"], by_name["status"]) == (1, "queued")
    assert by_id["parent_task_id"] == agent.task_id and by_id["created_by"] == agent.agent_id


async def test_the_user_creates_a_task_in_a_named_run(heph):
    started = await heph.start_run()
    async with heph.user() as user:
        created = (await _create(user, run=started["run_id"], priority="high")).structured_content
        missing = await _create(user)
    assert created["run_id"] == started["run_id"] and created["priority"] == "high"
    assert missing.is_error and "`run` is required" in missing.content[0].text


async def test_get_tasks_filters_by_status_and_phase(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        await _create(client, phase=2)
        await _create(client, phase=3, title="verify")
        everything = (await client.call_tool("get_tasks", {})).structured_content["tasks"]
        phase3 = (await client.call_tool("get_tasks", {"phase": "verify"})).structured_content
        queued = (await client.call_tool("get_tasks", {"status": "queued"})).structured_content
    assert len(everything) == 3
    assert [t["title"] for t in phase3["tasks"]] == ["verify"]
    assert {t["phase"] for t in queued["tasks"]} == {2, 3}


async def test_get_task_returns_one_task(heph):
    started = await heph.start_run()
    async with heph.user() as user:
        task = await user.call_tool("get_task", {"task_id": started["task_id"]})
    assert task.structured_content["id"] == started["task_id"]


async def test_an_agent_finishes_its_own_task_once(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        done = await client.call_tool(
            "update_task_status",
            {
                "status": "done",
                "summary": "reproduced in tests/test_empty.py",
                "learnings": ["the parser assumes a trailing newline"],
            },
        )
        again = await client.call_tool(
            "update_task_status",
            {"status": "failed", "summary": "changed my mind"},
            raise_on_error=False,
        )
    assert done.structured_content["status"] == "done"
    assert done.structured_content["learnings"] == ["the parser assumes a trailing newline"]
    assert again.is_error and "already done" in again.content[0].text
    row = (
        heph.db()
        .execute("SELECT status, summary FROM tasks WHERE id = ?", (agent.task_id,))
        .fetchone()
    )
    assert tuple(row) == ("done", "reproduced in tests/test_empty.py")


async def test_a_task_with_unfinished_dependencies_waits_blocked_then_queues(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        blocked = (await _create(client, depends_on=[agent.task_id])).structured_content
        assert blocked["status"] == "blocked" and blocked["depends_on"] == [agent.task_id]
        await client.call_tool("update_task_status", {"status": "done", "summary": "ok"})
        after = await client.call_tool("get_task", {"task_id": blocked["id"]})
    assert after.structured_content["status"] == "queued"


async def test_a_dependency_that_is_already_done_does_not_block(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        await client.call_tool("update_task_status", {"status": "done", "summary": "ok"})
        created = (await _create(client, depends_on=[agent.task_id])).structured_content
    assert created["status"] == "queued"


async def test_get_agent_status_shows_who_works_on_what(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        status = (await client.call_tool("get_agent_status", {})).structured_content
    assert status["you"]["id"] == agent.agent_id
    assert [(a["agent_id"], a["task_id"]) for a in status["agents"]] == [
        (agent.agent_id, agent.task_id)
    ]


async def test_only_the_tasks_current_agent_may_report_it(heph):
    """A retried task's old agent (its token not yet revoked) must not finish the new
    agent's work."""
    await heph.start_run()
    old = await heph.launch_agent()
    with heph.db() as db:  # the old session ended and its task went back to the queue
        db.execute("UPDATE agents SET status = 'exited' WHERE id = ?", (old.agent_id,))
        db.execute(
            "UPDATE tasks SET status = 'queued', claimed_by = NULL WHERE id = ?", (old.task_id,)
        )
    new = await heph.launch_agent()
    assert new.task_id == old.task_id
    before = heph.snapshot()
    async with heph.client(old.token) as client:
        result = await client.call_tool(
            "update_task_status", {"status": "done", "summary": "stale"}, raise_on_error=False
        )
    assert result.is_error and "no longer" in result.content[0].text
    assert heph.snapshot() == before
