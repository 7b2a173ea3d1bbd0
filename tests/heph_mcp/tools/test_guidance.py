"""Guidance: analyses and steers recorded by the Guardian, delivered to agents once."""

from __future__ import annotations

from heph_mcp.tools.guidance import NOTHING_PENDING


async def _steer(ops, agent_id, text="Stay in phase 1: do not edit source files.", **extra):
    args = {
        "agent_id": agent_id,
        "judge": "heuristic",
        "state": "drifting",
        "alignment": 0.2,
        "summary": "editing src/ in an analysis phase",
        "steering": text,
        **extra,
    }
    result = await ops.call_tool("record_analysis", args, raise_on_error=False)
    return result


async def _prompt_text(client) -> str:
    result = await client.get_prompt("guidance", {})
    return result.messages[0].content.text


async def test_a_steer_reaches_the_agent_through_the_prompt_exactly_once(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        recorded = (await _steer(ops, agent.agent_id)).structured_content
    async with heph.client(agent.token) as client:
        first = await _prompt_text(client)
        second = await _prompt_text(client)
    assert recorded["guidance_id"] is not None and recorded["suppressed"] is None
    assert "Stay in phase 1: do not edit source files." in first
    assert second == NOTHING_PENDING
    with heph.db() as db:
        via = db.execute("SELECT delivered_via FROM guidance").fetchall()
    assert [tuple(r) for r in via] == [("prompt",)]


async def test_pending_guidance_rides_on_the_agents_next_tool_result(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        await _steer(ops, agent.agent_id, text="Run the tests before reporting done.")
    async with heph.client(agent.token) as client:
        first = await client.call_tool("whoami", {})
        second = await client.call_tool("whoami", {})
    texts = [c.text for c in first.content]
    assert any("Run the tests before reporting done." in t for t in texts)
    assert first.structured_content["id"] == agent.agent_id
    assert not any("Guidance from Hephaestus" in c.text for c in second.content)


async def test_steers_are_rate_limited_per_agent_unless_severe(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        await _steer(ops, agent.agent_id)
        again = (await _steer(ops, agent.agent_id, text="second")).structured_content
        severe = (
            await _steer(ops, agent.agent_id, text="stop deleting files", severity="severe")
        ).structured_content
    assert again["guidance_id"] is None and "one steer per 300s" in again["suppressed"]
    assert severe["guidance_id"] is not None
    with heph.db() as db:
        assert db.execute("SELECT COUNT(*) FROM analyses").fetchone()[0] == 3


async def test_an_analysis_of_an_unknown_agent_is_refused_and_changes_nothing(heph):
    await heph.start_run()
    before = heph.snapshot()
    async with heph.ops() as ops:
        result = await _steer(ops, "a-missing")
        bad_state = await ops.call_tool(
            "record_analysis",
            {"agent_id": "a1", "judge": "x", "state": "dancing", "alignment": 2, "summary": ""},
            raise_on_error=False,
        )
    assert result.is_error and "no agent 'a-missing'" in result.content[0].text
    assert bad_state.is_error
    assert heph.snapshot() == before


async def test_only_the_ops_role_records_analyses_and_only_agents_read_guidance(heph):
    await heph.start_run()
    async with heph.user() as user:
        tools = {t.name for t in await user.list_tools()}
        prompts = {p.name for p in await user.list_prompts()}
    assert "record_analysis" not in tools and "guidance" not in prompts


async def test_analyses_steers_and_judge_costs_show_in_workflow_status_and_a_resource(heph):
    started = await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        await _steer(ops, agent.agent_id)
        await _steer(
            ops, agent.agent_id, text=None, judge="claude-headless", state="implementing",
            alignment=0.9, summary="writing the fix", tokens_in=1200, tokens_out=80,
        )  # fmt: skip
    async with heph.user() as user:
        status = await user.call_tool("workflow_status", {"run": started["run_id"]})
        resource = await user.read_resource(f"heph://runs/{started['run_id']}/guardian")
    run = status.structured_content["runs"][0]
    assert run["guardian"]["notes"][0]["state"] == "implementing"
    assert run["guardian"]["steers"][0]["text"].startswith("Stay in phase 1")
    costs = {c["judge"]: c for c in run["guardian"]["costs"]}
    assert (costs["claude-headless"]["tokens_in"], costs["claude-headless"]["calls"]) == (1200, 1)
    assert costs["claude-headless"]["tokens_per_agent_hour"] > 0
    assert "Guardian: implementing" in status.structured_content["text"]
    assert '"writing the fix"' in resource[0].text


async def test_agents_message_one_agent_or_all_others_of_their_run_through_guidance(heph):
    run = (await heph.start_run(workflow="feature_development", goal="dark mode"))["run_id"]
    async with heph.user() as user:
        for title in ("Theme tokens for the settings page", "Persist the chosen theme per user"):
            await user.call_tool(
                "create_task", {"run": run, "phase": 2, "title": title, "description": title}
            )
    a, b, c = [await heph.launch_agent() for _ in range(3)]
    await heph.start_run(workflow="bug_fix", goal="crash on empty input")
    outsider = await heph.launch_agent()
    assert {a.run_id, b.run_id, c.run_id} == {run} and outsider.run_id != run
    async with heph.client(a.token) as client:
        direct = await client.call_tool("send_message", {"to_agent": b.agent_id, "text": "hi b"})
        everyone = await client.call_tool("broadcast_message", {"text": "schema changed"})
        stranger = await client.call_tool(
            "send_message", {"to_agent": outsider.agent_id, "text": "x"}, raise_on_error=False
        )
    assert direct.structured_content == {"recipients": 1}
    assert everyone.structured_content == {"recipients": 2}  # b and c, not a, not the outsider
    assert stranger.is_error and "no running agent" in stranger.content[0].text
    async with heph.client(b.token) as client:
        text = await _prompt_text(client)
    async with heph.client(outsider.token) as client:
        nothing = await _prompt_text(client)
    assert "hi b" in text and "schema changed" in text and f"from agent {a.agent_id}" in text
    assert nothing == NOTHING_PENDING
