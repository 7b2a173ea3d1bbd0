"""The Conductor's whole-run checks: overlapping work and stalled runs."""

from __future__ import annotations

from heph_mcp.services.conductor import DIAGNOSTIC_TITLE


async def _call(client, tool, **args):
    return (await client.call_tool(tool, args)).structured_content


async def test_two_agents_on_the_same_work_in_different_phases_are_reported_later_one_second(heph):
    started = await heph.start_run(workflow="feature_development", goal="dark mode")
    run = started["run_id"]
    async with heph.user() as user:
        for phase in (2, 3):
            await _call(
                user, "create_task", run=run, phase=phase,
                title="Add a dark mode toggle to the settings page",
                description="A switch in settings that flips the app theme to dark colours.",
            )  # fmt: skip
        await _call(
            user, "create_task", run=run, phase=2, title="Speed up CSV export",
            description="Stream rows instead of building the whole file in memory.",
        )  # fmt: skip
    agents = [await heph.launch_agent() for _ in range(3)]  # the run's cap
    async with heph.ops() as ops:
        overlaps = (await _call(ops, "running_overlaps"))["overlaps"]
    toggles = {a.task_id for a in agents[1:3]}
    assert len(overlaps) == 1
    pair = overlaps[0]
    assert {pair["earlier_task"], pair["later_task"]} == toggles
    assert pair["later_agent"] == agents[2].agent_id and pair["score"] >= 0.7


async def test_a_run_with_nothing_left_open_gets_one_diagnostic_task_once(heph):
    started = await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        busy = (await _call(ops, "diagnose_stalled_runs"))["created"]
        async with heph.client(agent.token) as client:
            await _call(client, "update_task_status", status="done", summary="reproduced")
        await _call(ops, "record_merge", task_id=agent.task_id, state="queued")
        merging = (await _call(ops, "diagnose_stalled_runs"))["created"]
        await _call(ops, "record_merge", task_id=agent.task_id, state="merged", commit="a" * 40)
        first = (await _call(ops, "diagnose_stalled_runs"))["created"]
        second = (await _call(ops, "diagnose_stalled_runs"))["created"]
    assert busy == [] and merging == [] and second == []
    assert [(t["title"], t["phase"], t["run_id"]) for t in first] == [
        (DIAGNOSTIC_TITLE, 1, started["run_id"])
    ]


async def test_a_run_whose_open_work_is_all_blocked_counts_as_stalled(heph):
    started = await heph.start_run()
    run = started["run_id"]
    agent = await heph.launch_agent()
    async with heph.user() as user:
        waiting = await _call(
            user, "create_task", run=run, phase=2, title="Fix it after the repro",
            description="needs the reproduction first", depends_on=[agent.task_id],
        )  # fmt: skip
    async with heph.client(agent.token) as client:
        await _call(client, "update_task_status", status="failed", summary="cannot reproduce")
    async with heph.ops() as ops:
        created = (await _call(ops, "diagnose_stalled_runs"))["created"]
    assert waiting["status"] == "blocked"
    assert [t["title"] for t in created] == [DIAGNOSTIC_TITLE]
    assert "still `blocked`" in created[0]["description"]


async def test_cancelling_a_task_cancels_the_open_check_of_its_work(heph):
    await heph.start_run()  # bug_fix: its fix phase (2) is validated
    first = await heph.launch_agent()
    async with heph.client(first.token) as client:
        await _call(client, "create_task", phase=2, title="Fix", description="guard the input")
        await _call(client, "update_task_status", status="done", summary="reproduced")
    fixer = await heph.launch_agent()
    async with heph.client(fixer.token) as client:
        await _call(client, "update_task_status", status="done", summary="guarded")
    async with heph.ops() as ops:
        await _call(ops, "cancel_task", task_id=fixer.task_id, reason="the user dropped it")
    with heph.db() as db:
        checks = db.execute("SELECT status, failure_reason FROM tasks WHERE validates = ?",
                            (fixer.task_id,)).fetchall()  # fmt: skip
    assert [(r[0], r[1]) for r in checks] == [
        ("cancelled", "the task it checks was cancelled: the user dropped it")
    ]
