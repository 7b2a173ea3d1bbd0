"""Server support for the launcher: queue notifications, liveness, released claims, merges."""

from __future__ import annotations

import asyncio

from mcp.client.subscriptions import listen

from heph_mcp.notify import QUEUE_URI


async def _call(client, tool, **args):
    result = await client.call_tool(tool, args)
    return result.structured_content


async def test_a_queue_listener_hears_a_new_task_at_once(heph):
    started = await heph.start_run()
    async with heph.ops() as ops, heph.user() as user:
        async with listen(ops.session, resource_subscriptions=[QUEUE_URI]) as subscription:
            await _call(
                user, "create_task", run=started["run_id"], phase=2, title="Port the CLI",
                description="to typer",
            )  # fmt: skip
            event = await asyncio.wait_for(anext(aiter(subscription)), timeout=10)
        queue = await ops.read_resource(QUEUE_URI)
    assert event.uri == QUEUE_URI
    assert '"queued": 2' in queue[0].text


async def test_an_agents_first_request_shows_in_list_agents(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        before = (await _call(ops, "list_agents", worker="w1"))["agents"][0]
        async with heph.client(agent.token) as client:
            await _call(client, "whoami")
        after = (await _call(ops, "list_agents", worker="w1"))["agents"][0]
        other = (await _call(ops, "list_agents", worker="elsewhere"))["agents"]
    assert before["last_seen_at"] is None and before["task_status"] == "running"
    assert after["last_seen_at"] > 0
    assert other == []


async def test_released_claims_go_back_to_the_queue_and_count_as_an_attempt(heph):
    started = await heph.start_run()
    async with heph.ops() as ops:
        claim = await _call(ops, "claim_task", worker="w1", slots=4)
        released = await _call(ops, "release_claim", worker="w1", reason="worktree failed")
        again = await _call(ops, "claim_task", worker="w1", slots=4)
        task = await _call(ops, "get_task", task_id=started["task_id"])
    assert claim["task"]["id"] == started["task_id"]
    assert released["statuses"] == {started["task_id"]: "queued"}
    assert again["task"]["id"] == started["task_id"]
    assert (task["attempts"], task["failure_reason"]) == (2, "worktree failed")


async def test_releasing_a_claim_the_worker_does_not_hold_is_refused_and_changes_nothing(heph):
    started = await heph.start_run()
    before = heph.snapshot()
    async with heph.ops() as ops:
        result = await ops.call_tool(
            "release_claim",
            {"worker": "w1", "reason": "x", "task_id": started["task_id"]},
            raise_on_error=False,
        )
    assert result.is_error and "not claimed by w1" in result.content[0].text
    assert heph.snapshot() == before


async def test_a_merge_conflict_queues_a_resolve_task_on_the_conflicting_branch(heph):
    await heph.start_run(workflow="feature_development")
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        recorded = await _call(
            ops, "record_merge", task_id=agent.task_id, state="conflict",
            conflicts=["src/app.py", "README.md"],
        )  # fmt: skip
        again = await ops.call_tool(
            "record_merge", {"task_id": agent.task_id, "state": "merged"}, raise_on_error=False
        )
    resolve = recorded["resolve_task"]
    assert resolve["title"] == "Resolve merge conflict in src/app.py, README.md"
    assert resolve["phase_name"] == "implement" and resolve["status"] == "queued"
    assert resolve["base_ref"] == f"heph/{agent.run_id}-{agent.task_id}"
    assert resolve["parent_task_id"] == agent.task_id
    assert again.is_error and "already has a merge outcome" in again.content[0].text


async def test_a_claim_names_the_phase_agent_spec(heph):
    await heph.start_run()
    async with heph.ops() as ops:
        claim = await _call(ops, "claim_task", worker="w1", slots=4)
    assert claim["workflow"] == "bug_fix"
    assert claim["agent"] == {"cli": None, "model": None, "allowed_tools": []}
