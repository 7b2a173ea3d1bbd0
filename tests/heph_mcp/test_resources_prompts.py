"""Resources and the task_brief prompt."""

from __future__ import annotations

import json

import pytest


async def test_the_workflows_resource_lists_the_builtins(heph):
    async with heph.user() as user:
        contents = await user.read_resource("heph://workflows")
    names = {w["name"] for w in json.loads(contents[0].text)["workflows"]}
    assert "bug_fix" in names


async def test_one_workflow_resource_is_its_full_definition(heph):
    async with heph.user() as user:
        contents = await user.read_resource("heph://workflows/bug_fix")
    definition = json.loads(contents[0].text)
    assert definition["phases"][1]["done_definitions"]


async def test_an_unknown_workflow_resource_says_which_exist(heph):
    async with heph.user() as user:
        with pytest.raises(Exception, match="bug_fix"):
            await user.read_resource("heph://workflows/nope")


async def test_the_phase_resource_has_the_phase_instructions(heph):
    started = await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        text = (await client.read_resource(f"heph://runs/{started['run_id']}/phases/2"))[0].text
    assert text.startswith("# Phase 2 of 3: fix")
    assert "## Done when" in text


async def test_the_task_resource_is_the_task_as_json(heph):
    started = await heph.start_run()
    async with heph.user() as user:
        text = (await user.read_resource(f"heph://tasks/{started['task_id']}"))[0].text
    assert json.loads(text)["id"] == started["task_id"]


async def test_resource_templates_are_listed(heph):
    async with heph.user() as user:
        templates = {t.uri_template for t in await user.list_resource_templates()}
    assert templates == {
        "heph://workflows/{name}",
        "heph://runs/{run}/phases/{phase}",
        "heph://runs/{run}/guardian",
        "heph://runs/{run}/tickets",
        "heph://tasks/{task_id}",
    }


async def test_an_agents_brief_has_its_task_phase_instructions_and_tool_guide(heph):
    await heph.start_run(goal="the parser crashes on empty input")
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        prompt = await client.get_prompt("task_brief")
    text = prompt.messages[0].content.text
    assert text.startswith("# Your task: Reproduce: the parser crashes on empty input")
    assert f"Task id: {agent.task_id}" in text
    assert "# Phase 1 of 3: reproduce" in text
    assert "update_task_status" in text and "create_task" in text


async def test_ops_renders_a_brief_by_task_id(heph):
    started = await heph.start_run()
    async with heph.ops() as ops:
        prompt = await ops.get_prompt("task_brief", {"task_id": started["task_id"]})
    assert f"Task id: {started['task_id']}" in prompt.messages[0].content.text


async def test_a_brief_in_a_run_with_a_result_says_how_to_submit_it_and_against_what(heph):
    await heph.start_run(goal="the parser crashes on empty input")
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        text = (await client.get_prompt("task_brief")).messages[0].content.text
    assert "## This run ends with a result" in text and "submit_result(markdown, evidence)" in text
    assert "- The bug is fixed and verified: it cannot be reproduced and the tests pass" in text
    assert "every other agent of the run stops" in text  # stop_all


async def test_a_brief_in_a_run_without_a_result_says_nothing_of_one(heph):
    await heph.start_run("feature_development", goal="add a --json flag")
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        text = (await client.get_prompt("task_brief")).messages[0].content.text
    assert "submit_result" not in text
