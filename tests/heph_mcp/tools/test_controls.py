"""The operator's controls: each does its one thing, leaves an event naming the user, and
is the user's alone (agents and ops neither see nor call them, whatever they send)."""

from __future__ import annotations

import json

import pytest

CONTROLS = {
    "message_agent": {"text": "use the v2 API", "task_id": "t0"},
    "cancel_one_task": {"task_id": "t0", "reason": "not needed"},
    "retry_task": {"task_id": "t0"},
    "set_task_priority": {"task_id": "t0", "priority": "critical"},
    "stop_agent": {"agent_id": "a0", "then": "requeue", "reason": "wrong track"},
    "pause_run": {"run": "r0"},
    "resume_run": {"run": "r0"},
    "set_run_budget": {"run": "r0", "budget_tokens": 5000},
}


async def _call(client, tool, args):
    async with client:
        return await client.call_tool(tool, args, raise_on_error=False)


def _events(heph, kind):
    with heph.db() as db:
        rows = db.execute(
            "SELECT actor, run_id, task_id, detail FROM events WHERE kind = ? ORDER BY id", (kind,)
        ).fetchall()
    return [(r["actor"], r["run_id"], r["task_id"], json.loads(r["detail"])) for r in rows]


def _task(heph, task_id):
    with heph.db() as db:
        return db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()


async def test_a_message_to_a_task_reaches_its_agent_as_guidance_from_the_user(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    sent = await _call(
        heph.user(), "message_agent", {"text": "use the v2 API", "task_id": agent.task_id}
    )
    async with heph.client(agent.token) as client:
        prompt = await client.get_prompt("guidance", {})
    assert sent.structured_content["agent_id"] == agent.agent_id
    assert "[warning, from user] use the v2 API" in prompt.messages[0].content.text
    assert _events(heph, "user_message") == [
        ("user", agent.run_id, agent.task_id, {"agent": agent.agent_id, "text": "use the v2 API"})
    ]


async def test_a_message_names_exactly_one_agent_or_task_and_a_running_one(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    before = heph.snapshot()
    both = await _call(
        heph.user(),
        "message_agent",
        {"text": "x", "agent_id": agent.agent_id, "task_id": agent.task_id},
    )
    nobody = await _call(heph.user(), "message_agent", {"text": "x", "agent_id": "anope"})
    assert both.is_error and "exactly one" in both.content[0].text
    assert nobody.is_error and "no running agent" in nobody.content[0].text
    assert heph.snapshot() == before


async def test_cancelling_one_task_leaves_the_run_and_its_other_tasks_alone(heph):
    run = await heph.start_run()
    async with heph.user() as user:
        other = await user.call_tool(
            "create_task",
            {
                "run": run["run_id"],
                "phase": 2,
                "title": "Add a regression test for the parser",
                "description": "tests/test_parser.py",
            },
        )
    cancelled = await _call(
        heph.user(),
        "cancel_one_task",
        {"task_id": run["task_id"], "reason": "the user fixed it by hand"},
    )
    assert cancelled.structured_content["status"] == "cancelled"
    assert _task(heph, run["task_id"])["failure_reason"] == "the user fixed it by hand"
    assert _task(heph, other.structured_content["id"])["status"] == "queued"
    with heph.db() as db:
        assert db.execute("SELECT status FROM runs").fetchone()[0] == "active"
    assert _events(heph, "task_cancelled") == [
        ("user", run["run_id"], run["task_id"], {"reason": "the user fixed it by hand"})
    ]


async def test_a_cancelled_task_can_be_retried_with_fresh_attempts_and_a_running_one_cannot(heph):
    run = await heph.start_run()
    agent = await heph.launch_agent()
    before = heph.snapshot()
    refused = await _call(heph.user(), "retry_task", {"task_id": agent.task_id})
    assert refused.is_error and "only a failed or cancelled task" in refused.content[0].text
    assert heph.snapshot() == before
    await _call(heph.user(), "cancel_one_task", {"task_id": run["task_id"], "reason": "pause"})
    retried = await _call(
        heph.user(), "retry_task", {"task_id": run["task_id"], "reason": "try again"}
    )
    row = _task(heph, run["task_id"])
    assert retried.structured_content["status"] == "queued"
    assert (row["status"], row["attempts"], row["finished_at"]) == ("queued", 0, None)
    assert _events(heph, "task_retried_by_user") == [
        ("user", run["run_id"], run["task_id"], {"was": "cancelled", "reason": "try again"})
    ]


async def test_a_raised_priority_is_claimed_first(heph):
    run = await heph.start_run()
    async with heph.user() as user:
        later = await user.call_tool(
            "create_task",
            {
                "run": run["run_id"],
                "phase": 2,
                "title": "Write the migration for the new column",
                "description": "schema change",
                "priority": "low",
            },
        )
    later_id = later.structured_content["id"]
    changed = await _call(
        heph.user(), "set_task_priority", {"task_id": later_id, "priority": "critical"}
    )
    agent = await heph.launch_agent()
    assert changed.structured_content["priority"] == "critical"
    assert agent.task_id == later_id
    assert _events(heph, "task_priority_changed") == [
        ("user", run["run_id"], later_id, {"priority": "critical", "was": 1})
    ]


@pytest.mark.parametrize(("then", "status"), [("requeue", "queued"), ("fail", "failed")])
async def test_a_stopped_agent_loses_its_token_and_its_task_is_requeued_or_failed(
    heph, then, status
):
    await heph.start_run()
    agent = await heph.launch_agent()
    stopped = await _call(
        heph.user(),
        "stop_agent",
        {"agent_id": agent.agent_id, "then": then, "reason": "wrong track"},
    )
    assert stopped.structured_content["task"]["status"] == status
    assert _task(heph, agent.task_id)["failure_reason"] == "stopped by user: wrong track"
    with heph.db() as db:
        assert db.execute("SELECT status FROM agents").fetchone()[0] == "exited"
    assert await heph.list_tools_status({"Authorization": f"Bearer {agent.token}"}) == 401
    assert _events(heph, "agent_stopped") == [
        (
            "user",
            agent.run_id,
            agent.task_id,
            {"agent": agent.agent_id, "then": then, "reason": "wrong track"},
        )
    ]


async def test_a_paused_run_is_never_claimed_until_it_is_resumed(heph):
    run = await heph.start_run()
    paused = await _call(heph.user(), "pause_run", {"run": run["run_id"]})
    again = await _call(heph.user(), "pause_run", {"run": run["run_id"]})
    async with heph.ops() as ops:
        nothing = await ops.call_tool("claim_task", {"worker": "w1", "slots": 4})
        status = await ops.call_tool("workflow_status", {"run": run["run_id"]})
    assert paused.structured_content["paused"] is True
    assert again.is_error and "already paused" in again.content[0].text
    assert nothing.structured_content["task"] is None
    assert status.structured_content["runs"][0]["run"]["paused"] is True
    assert "paused" in status.content[0].text
    await _call(heph.user(), "resume_run", {"run": run["run_id"]})
    agent = await heph.launch_agent()
    assert agent.task_id == run["task_id"]
    assert [e[:2] for e in _events(heph, "run_paused") + _events(heph, "run_resumed")] == [
        ("user", run["run_id"]),
        ("user", run["run_id"]),
    ]


async def test_the_user_lists_every_control_and_ops_and_agents_none(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    for client, expected in (
        (heph.user(), set(CONTROLS)),
        (heph.ops(), set()),
        (heph.client(agent.token), set()),
    ):
        async with client:
            names = {t.name for t in await client.list_tools()}
        assert names & set(CONTROLS) == expected


@pytest.mark.parametrize("tool", sorted(CONTROLS))
async def test_agents_and_ops_cannot_call_a_control_even_naming_their_own_things(heph, tool):
    """A spoofed agent: its own ids in the arguments, a user role claimed in headers."""
    await heph.start_run()
    agent = await heph.launch_agent()
    mine = {"task_id": agent.task_id, "agent_id": agent.agent_id, "run": agent.run_id}
    args = {k: mine.get(k, v) for k, v in CONTROLS[tool].items()}
    if tool == "message_agent":
        args.pop("agent_id", None)
    before = heph.snapshot()
    spoofed = heph.server.client(
        headers={
            "Authorization": f"Bearer {agent.token}",
            "X-Heph-Role": "user",
            "X-Heph-Principal": "user",
        }
    )
    for client in (spoofed, heph.ops()):
        result = await _call(client, tool, args)
        assert result.is_error and "Unknown tool" in result.content[0].text
    assert heph.snapshot() == before
