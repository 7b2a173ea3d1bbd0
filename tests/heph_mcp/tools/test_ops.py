"""Ops tools: atomic claims within every cap, agent sessions, exits, leases."""

from __future__ import annotations

import asyncio

from heph_mcp.settings import load_settings

# Different enough that duplicate detection keeps every one of them.
DISTINCT_WORK = [
    ("Fix the date picker", "January shows December"),
    ("Speed up the task list", "add an index on tasks.status"),
    ("Translate the settings page", "German labels for every field"),
    ("Stream large uploads", "files over 100 MB are read into memory"),
]


async def _claim(ops, worker="w1", slots=8, **extra):
    result = await ops.call_tool("claim_task", {"worker": worker, "slots": slots, **extra})
    return result.structured_content


async def test_claims_take_the_highest_priority_then_the_oldest_task(heph):
    started = await heph.start_run()
    async with heph.user() as user:
        low = (
            await user.call_tool(
                "create_task",
                {
                    "run": started["run_id"],
                    "phase": 2,
                    "title": "low",
                    "description": "d",
                    "priority": "low",
                },
            )
        ).structured_content
        crit = (
            await user.call_tool(
                "create_task",
                {
                    "run": started["run_id"],
                    "phase": 2,
                    "title": "crit",
                    "description": "d",
                    "priority": "critical",
                },
            )
        ).structured_content
    async with heph.ops() as ops:
        order = [(await _claim(ops))["task"]["id"] for _ in range(3)]
    assert order == [crit["id"], started["task_id"], low["id"]]


async def test_a_workers_own_slots_bound_its_claims(heph):
    for n in range(3):
        await heph.start_run(goal=f"bug {n}")
    async with heph.ops() as ops:
        first = await _claim(ops, slots=1)
        second = await _claim(ops, slots=1)
        other_worker = await _claim(ops, worker="w2", slots=1)
    assert first["task"] is not None
    assert second["task"] is None and "w1 is full" in second["reason"]
    assert other_worker["task"] is not None


async def test_the_server_cap_holds_across_workers(tmp_path, serve):
    settings = load_settings(project=tmp_path, max_concurrent_agents=2)
    async with serve(settings) as heph:
        for n in range(4):
            await heph.start_run(goal=f"bug {n}")
        async with heph.ops() as ops:
            claims = [await _claim(ops, worker=f"w{n}") for n in range(4)]
    assert [c["task"] is not None for c in claims] == [True, True, False, False]
    assert "server cap" in claims[2]["reason"]


async def test_a_runs_own_cap_leaves_room_for_other_runs(heph):
    started = await heph.start_run()
    async with heph.user() as user:
        for title, description in DISTINCT_WORK:
            await user.call_tool(
                "create_task",
                {"run": started["run_id"], "phase": 2, "title": title, "description": description},
            )
    other = await heph.start_run(goal="other run")
    cap = (
        heph.db()
        .execute("SELECT max_agents FROM runs WHERE id = ?", (started["run_id"],))
        .fetchone()[0]
    )
    async with heph.ops() as ops:
        claimed = [(await _claim(ops, slots=64))["task"] for _ in range(cap + 1)]
    runs = [t["run_id"] for t in claimed if t]
    assert runs.count(started["run_id"]) == cap and other["run_id"] in runs


async def test_concurrent_claims_never_hand_out_a_task_twice_or_exceed_the_cap(heph):
    for n in range(6):
        await heph.start_run(goal=f"bug {n}")

    async def claim_as(worker):
        async with heph.ops() as ops:
            return await _claim(ops, worker=worker, slots=64)

    claims = await asyncio.gather(*(claim_as(f"w{n}") for n in range(12)))
    ids = [c["task"]["id"] for c in claims if c["task"]]
    assert len(ids) == len(set(ids)) == heph.settings.max_concurrent_agents
    active = (
        heph.db()
        .execute("SELECT COUNT(*) FROM tasks WHERE status IN ('claimed', 'running')")
        .fetchone()[0]
    )
    assert active == heph.settings.max_concurrent_agents


async def test_only_the_claiming_worker_can_register_an_agent(heph):
    await heph.start_run()
    async with heph.ops() as ops:
        task = (await _claim(ops))["task"]
        result = await ops.call_tool(
            "register_agent",
            {"task_id": task["id"], "worker": "intruder", "session_name": "s", "cli": "claude"},
            raise_on_error=False,
        )
    assert result.is_error and "only its claimer" in result.content[0].text


async def test_an_agent_that_exits_without_reporting_is_retried_then_failed(heph):
    await heph.start_run()
    outcomes = []
    for _ in range(heph.settings.max_attempts):
        agent = await heph.launch_agent()
        async with heph.ops() as ops:
            outcomes.append(
                (
                    await ops.call_tool(
                        "report_agent_exit",
                        {"agent_id": agent.agent_id, "reason": "tmux session died"},
                    )
                ).structured_content
            )
    assert [o["task_status"] for o in outcomes] == ["queued", "failed"]
    assert [o["retried"] for o in outcomes] == [True, False]
    reason = heph.db().execute("SELECT failure_reason FROM tasks").fetchone()[0]
    assert reason == "tmux session died"


async def test_an_exit_after_the_task_was_reported_done_keeps_it_done(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        await client.call_tool("update_task_status", {"status": "done", "summary": "ok"})
    async with heph.ops() as ops:
        outcome = (
            await ops.call_tool(
                "report_agent_exit", {"agent_id": agent.agent_id, "reason": "exited 0"}
            )
        ).structured_content
    assert outcome["task_status"] == "done" and outcome["retried"] is False


async def test_an_expired_lease_puts_the_task_back_in_the_queue(heph):
    await heph.start_run()
    async with heph.ops() as ops:
        first = await _claim(ops, worker="dead", lease_seconds=0.001)
        for _ in range(200):  # bounded: the 1 ms lease lapses within a few round trips
            second = await _claim(ops, worker="alive")
            if second["task"]:
                break
    assert second["task"]["id"] == first["task"]["id"]
    assert second["task"]["attempts"] == 2


async def test_renewed_leases_keep_a_workers_tasks(heph):
    await heph.start_run()
    async with heph.ops() as ops:
        await _claim(ops, worker="w1", lease_seconds=0.5)
        renewed = await ops.call_tool("renew_leases", {"worker": "w1", "lease_seconds": 600})
        other = await _claim(ops, worker="w2")
    assert renewed.structured_content["renewed"] == 1 and other["task"] is None


async def test_list_agents_shows_running_sessions(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        agents = (await ops.call_tool("list_agents", {})).structured_content["agents"]
    assert [(a["id"], a["session_name"]) for a in agents] == [
        (agent.agent_id, f"heph-{agent.run_id}-{agent.task_id}")
    ]


async def test_a_session_name_or_worker_that_is_a_dot_segment_is_refused_and_nothing_stored(heph):
    """A session name becomes a folder the launcher later removes: `.` or `..` would be the
    agents' folder or the state folder itself."""
    await heph.start_run()
    async with heph.ops() as ops:
        task = (await _claim(ops))["task"]
        before = heph.snapshot()
        for name in (".", "..", ".hidden"):
            result = await ops.call_tool(
                "register_agent",
                {"task_id": task["id"], "worker": "w1", "session_name": name, "cli": "claude"},
                raise_on_error=False,
            )
            assert result.is_error and "session_name" in result.content[0].text, name
        worker = await ops.call_tool(
            "claim_task", {"worker": "..", "slots": 1}, raise_on_error=False
        )
        assert worker.is_error and "worker" in worker.content[0].text
    assert heph.snapshot() == before
