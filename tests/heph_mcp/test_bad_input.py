"""Bad input gets a clear error naming what was wrong, and the database stays unchanged."""

from __future__ import annotations

import pytest


@pytest.fixture
async def agent(heph):
    await heph.start_run()
    return await heph.launch_agent()


VALID = {"phase": 2, "title": "fix it", "description": "the parser crashes"}


@pytest.mark.parametrize(
    "args,expected",
    [
        ({**VALID, "phase": [2]}, "phase"),
        ({**VALID, "title": 42}, "title"),
        ({**VALID, "priority": "urgent"}, "priority"),
        ({**VALID, "depends_on": "t123"}, "depends_on"),
        ({"phase": 2, "description": "no title"}, "title"),
        ({**VALID, "title": ""}, "title"),
        ({**VALID, "phase": 9}, "phases are 1 (reproduce), 2 (fix), 3 (verify)"),
        ({**VALID, "phase": "deploy"}, "no phase 'deploy'"),
        ({**VALID, "depends_on": ["t00000000"]}, "not in this run"),
        ({**VALID, "description": "x" * (64 * 1024 + 1)}, "65536"),
    ],
)
async def test_create_task_rejects_bad_arguments_and_stores_nothing(heph, agent, args, expected):
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        result = await client.call_tool("create_task", args, raise_on_error=False)
        alive = await client.call_tool("whoami", {})
    assert result.is_error
    assert expected in result.content[0].text
    assert heph.snapshot() == before
    assert alive.structured_content["id"] == agent.agent_id


async def test_an_unknown_run_is_named(heph):
    before = heph.snapshot()
    async with heph.user() as user:
        result = await user.call_tool(
            "create_task", {**VALID, "run": "rnope"}, raise_on_error=False
        )
        status = await user.call_tool("workflow_status", {"run": "rnope"}, raise_on_error=False)
    assert result.is_error and "no run 'rnope'" in result.content[0].text
    assert status.is_error and "no run 'rnope'" in status.content[0].text
    assert heph.snapshot() == before


async def test_an_oversize_summary_is_refused_and_the_task_stays_running(heph, agent):
    async with heph.client(agent.token) as client:
        result = await client.call_tool(
            "update_task_status",
            {"status": "done", "summary": "s" * (64 * 1024 + 1)},
            raise_on_error=False,
        )
    assert result.is_error
    status = (
        heph.db().execute("SELECT status FROM tasks WHERE id = ?", (agent.task_id,)).fetchone()[0]
    )
    assert status == "running"


async def test_a_status_other_than_done_or_failed_is_refused(heph, agent):
    async with heph.client(agent.token) as client:
        result = await client.call_tool(
            "update_task_status", {"status": "cancelled", "summary": "x"}, raise_on_error=False
        )
    assert result.is_error and "'done' or 'failed'" in result.content[0].text


async def test_a_request_body_over_the_limit_gets_http_413(heph):
    async with heph.server.http_client() as http:
        response = await http.post(
            "/mcp",
            content=b"x" * (heph.settings.max_request_bytes + 1),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413 and "bytes" in response.json()["error"]


async def test_the_input_schema_states_the_limits(heph, agent):
    async with heph.client(agent.token) as client:
        tools = {t.name: t for t in await client.list_tools()}
    schema = tools["create_task"].input_schema
    assert schema["properties"]["description"]["maxLength"] == 64 * 1024
    assert schema["properties"]["title"]["maxLength"] == 200
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"phase", "title", "description"}


async def test_a_chunked_body_over_the_limit_gets_http_413_too(heph):
    """A body sent in chunks has no Content-Length: the limit holds on the stream itself."""
    limit = heph.settings.max_request_bytes

    async def chunks():
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096

    async with heph.server.http_client() as http:
        response = await http.post(
            "/mcp", content=chunks(), headers={"Content-Type": "application/json"}
        )
        alive = await http.get("/healthz")
    assert response.status_code == 413 and "bytes" in response.json()["error"]
    assert alive.status_code == 200
