"""A run's cost: usage reports summed per agent, task and run, priced from the table, and
its budget: a warning at 80%, and at 100% nothing new launches and its agents wrap up."""

from __future__ import annotations

import pytest

from heph_mcp.prices import load_prices
from heph_mcp.services.event_feed import EventFeed
from heph_mcp.store import Store

SONNET = "claude-sonnet-4-5-20250929"


def _entry(key, model=SONNET, i=0, o=0, cr=0, cw=0):
    return {
        "key": key,
        "model": model,
        "input_tokens": i,
        "output_tokens": o,
        "cache_read_tokens": cr,
        "cache_write_tokens": cw,
    }


async def _report(heph, agent_id, entries, source="agent"):
    async with heph.ops() as ops:
        result = await ops.call_tool(
            "record_usage",
            {"agent_id": agent_id, "entries": entries, "source": source},
            raise_on_error=False,
        )
    return result


async def _cost(heph, run_id):
    async with heph.user() as user:
        status = await user.call_tool("workflow_status", {"run": run_id})
    return status.structured_content["runs"][0]["cost"], status.content[0].text


async def test_usage_is_summed_per_agent_task_and_run_and_priced_from_the_table(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    await _report(heph, agent.agent_id, [_entry("m1", i=100, o=50, cr=1000, cw=200)])
    await _report(heph, agent.agent_id, [_entry("m2", i=10, o=5)])
    await _report(
        heph,
        agent.agent_id,
        [_entry("j1", model="claude-haiku-4-5", i=300, o=40)],
        source="guardian",
    )
    cost, text = await _cost(heph, agent.run_id)
    prices = load_prices()
    sonnet, haiku = prices.find(SONNET), prices.find("claude-haiku-4-5")
    assert sonnet is not None and haiku is not None
    expected = (
        110 * sonnet.input
        + 55 * sonnet.output
        + 1000 * sonnet.cache_read
        + 200 * sonnet.cache_write
        + 300 * haiku.input
        + 40 * haiku.output
    ) / 1e6
    assert (cost["input_tokens"], cost["output_tokens"]) == (410, 95)
    assert (cost["cache_read_tokens"], cost["cache_write_tokens"]) == (1000, 200)
    assert cost["usd"] == pytest.approx(expected, abs=1e-6)
    assert cost["guardian"]["input_tokens"] == 300
    assert [(a["source"], a["input_tokens"]) for a in cost["agents"]] == [
        ("agent", 110),
        ("guardian", 300),
    ]
    assert cost["tasks"] == [{**cost["tasks"][0], "task_id": agent.task_id, "input_tokens": 410}]
    assert "1,705 tokens" in text and "incl. Guardian 340 tokens" in text
    assert "Used 1,365 tokens" in text


async def test_a_message_reported_twice_counts_once_with_its_latest_figures(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    await _report(heph, agent.agent_id, [_entry("m1", i=100, o=1)])
    await _report(heph, agent.agent_id, [_entry("m1", i=100, o=70)])
    cost, _ = await _cost(heph, agent.run_id)
    assert (cost["input_tokens"], cost["output_tokens"]) == (100, 70)


async def test_a_model_without_a_price_is_counted_in_tokens_and_named(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    await _report(heph, agent.agent_id, [_entry("m1", model="mystery-1", i=500)])
    cost, text = await _cost(heph, agent.run_id)
    assert cost["input_tokens"] == 500 and cost["usd"] == 0
    assert cost["unpriced_models"] == ["mystery-1"] and "500 unpriced (mystery-1)" in text


async def test_bad_usage_and_bad_budget_params_are_refused_with_what_is_allowed(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    before = heph.snapshot()
    negative = await _report(heph, agent.agent_id, [_entry("m1", i=-5)])
    unknown = await _report(heph, "anobody", [_entry("m1", i=5)])
    async with heph.user() as user:
        budget = await user.call_tool(
            "start_workflow",
            {"workflow": "bug_fix", "goal": "g", "params": {"budget_tokens": "lots"}},
            raise_on_error=False,
        )
    assert negative.is_error and unknown.is_error and "no agent" in unknown.content[0].text
    assert budget.is_error and "budget_tokens a whole number" in budget.content[0].text
    assert heph.snapshot() == before


async def _budget_run(heph, tokens):
    async with heph.user() as user:
        started = await user.call_tool(
            "start_workflow",
            {"workflow": "bug_fix", "goal": "fix it", "params": {"budget_tokens": str(tokens)}},
        )
        run_id = started.structured_content["run_id"]
        await user.call_tool(
            "create_task",
            {"run": run_id, "phase": 2, "title": "Second task", "description": "more work"},
        )
    return run_id


async def test_a_run_at_80_percent_of_its_budget_shows_a_warning_and_still_launches(heph):
    run_id = await _budget_run(heph, 1000)
    agent = await heph.launch_agent()
    recorded = await _report(heph, agent.agent_id, [_entry("m1", i=850)])
    cost, text = await _cost(heph, run_id)
    assert recorded.structured_content["budget_state"] == "warning"
    assert cost["budget_used"] == 0.85 and "WARNING: 80% reached" in text
    second = await heph.launch_agent()
    assert second.run_id == run_id


async def test_at_100_percent_of_the_budget_nothing_launches_and_agents_are_told_to_wrap_up(
    heph,
):
    run_id = await _budget_run(heph, 1000)
    agent = await heph.launch_agent()
    recorded = await _report(heph, agent.agent_id, [_entry("m1", i=600, o=400)])
    async with heph.ops() as ops:
        claim = await ops.call_tool("claim_task", {"worker": "w1", "slots": 8})
    async with heph.client(agent.token) as client:
        told = (await client.get_prompt("guidance", {})).messages[0].content.text
    cost, text = await _cost(heph, run_id)
    assert recorded.structured_content["budget_state"] == "over_budget"
    assert claim.structured_content["task"] is None
    assert "used its whole budget (100%)" in told and "update_task_status" in told
    assert "(over budget: nothing new launches)" in text and "OVER BUDGET" in text
    with heph.db() as db:
        kinds = [r[0] for r in db.execute("SELECT kind FROM events WHERE kind LIKE '%budget%'")]
        assert db.execute("SELECT status FROM runs").fetchone()[0] == "active"
    assert kinds == ["budget_warning", "run_over_budget"]


async def test_a_dollar_budget_from_the_workflow_config_is_enforced_too(heph):
    definition = {
        "name": "capped",
        "description": "a workflow with a budget",
        "phases": [{"id": 1, "name": "work", "description": "do it"}],
        "config": {"budget": {"usd": 0.01}},
    }
    async with heph.user() as user:
        await user.call_tool("register_workflow", {"definition": definition})
    await heph.start_run(workflow="capped")
    agent = await heph.launch_agent()
    await _report(heph, agent.agent_id, [_entry("m1", o=1000)])  # $0.015 at sonnet's price
    cost, _ = await _cost(heph, agent.run_id)
    assert cost["budget_usd"] == 0.01 and cost["budget_state"] == "over_budget"


async def test_a_message_a_retrys_agent_reports_again_stays_with_its_first_agent(heph):
    """A retry works in the same worktree, whose transcript folder holds the earlier session."""
    await heph.start_run()
    first = await heph.launch_agent()
    await _report(heph, first.agent_id, [_entry("m1", i=100)])
    async with heph.ops() as ops:
        await ops.call_tool("report_agent_exit", {"agent_id": first.agent_id, "reason": "died"})
    second = await heph.launch_agent()
    await _report(heph, second.agent_id, [_entry("m1", i=100), _entry("m2", i=7)])
    cost, _ = await _cost(heph, first.run_id)
    assert second.task_id == first.task_id and cost["input_tokens"] == 107
    assert [(a["agent_id"], a["input_tokens"]) for a in cost["agents"]] == [
        (first.agent_id, 100),
        (second.agent_id, 7),
    ]


async def _set_budget(heph, run_id, **budget):
    async with heph.user() as user:
        return await user.call_tool(
            "set_run_budget", {"run": run_id, **budget}, raise_on_error=False
        )


async def test_a_run_over_budget_launches_again_once_the_user_raises_its_budget(heph):
    run_id = await _budget_run(heph, 1000)
    agent = await heph.launch_agent()
    await _report(heph, agent.agent_id, [_entry("m1", i=1000)])
    raised = await _set_budget(heph, run_id, budget_tokens=1100)
    assert raised.structured_content["budget_state"] == "warning"  # 91%: launches, warned
    second = await heph.launch_agent()
    assert second.run_id == run_id
    cost, text = await _cost(heph, run_id)
    assert cost["budget_tokens"] == 1100 and "OVER BUDGET" not in text
    await _report(heph, second.agent_id, [_entry("m2", i=200)])  # over again: judged again
    _, text = await _cost(heph, run_id)
    assert "OVER BUDGET" in text
    with heph.db() as db:
        kinds = [r[0] for r in db.execute("SELECT kind FROM events WHERE kind LIKE '%budget%'")]
    assert kinds == ["budget_warning", "run_over_budget", "budget_set", "run_over_budget"]
    store = await Store.open(heph.settings.db_path)
    try:
        _, lines = await EventFeed(store).since(0)
    finally:
        await store.close()
    assert [(line.word, line.note) for line in lines if line.word == "budget"][1:3] == [
        ("budget", "over budget (100%): nothing new launches"),
        ("budget", "set by hand: 1,100 tokens"),
    ]


async def test_a_budget_can_be_lifted_or_switched_to_dollars(heph):
    run_id = await _budget_run(heph, 1000)
    agent = await heph.launch_agent()
    await _report(heph, agent.agent_id, [_entry("m1", o=2000)])  # $0.03 at sonnet's price
    lifted = await _set_budget(heph, run_id, budget_tokens=0)
    assert lifted.structured_content["budget_state"] == "none"
    dollars = await _set_budget(heph, run_id, budget_usd=0.02)
    assert dollars.structured_content["budget_state"] == "over_budget"
    assert (dollars.structured_content["budget_tokens"], dollars.structured_content["budget_usd"]
            ) == (None, 0.02)  # fmt: skip


async def test_a_budget_change_that_says_nothing_or_names_no_active_run_is_refused(heph):
    run_id = await _budget_run(heph, 1000)
    before = heph.snapshot()
    empty = await _set_budget(heph, run_id)
    negative = await _set_budget(heph, run_id, budget_usd=-1)
    unknown = await _set_budget(heph, "r-none", budget_tokens=10)
    assert empty.is_error and "budget_tokens, budget_usd or both" in empty.content[0].text
    assert negative.is_error and "budget_usd" in negative.content[0].text
    assert unknown.is_error and "no run 'r-none'" in unknown.content[0].text
    assert heph.snapshot() == before
