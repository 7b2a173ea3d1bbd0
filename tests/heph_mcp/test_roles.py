"""Each role lists and can call only its own tools; identity comes only from the token."""

from __future__ import annotations

import pytest

TICKET_TOOLS = {
    "create_ticket",
    "update_ticket",
    "change_ticket_status",
    "add_ticket_comment",
    "get_ticket",
    "list_tickets",
    "search_tickets",
    "resolve_ticket",
}
USER_TOOLS = TICKET_TOOLS | {
    "list_workflows",
    "register_workflow",
    "start_workflow",
    "workflow_status",
    "cancel_workflow",
    "create_task",
    "get_tasks",
    "get_task",
    "get_agent_status",
    "whoami",
    "save_memory",
    "find_memories",
    "submit_result",
    "get_result",
    "list_questions",
    "answer_question",
    "land_run",
    "message_agent",
    "cancel_one_task",
    "retry_task",
    "set_task_priority",
    "stop_agent",
    "pause_run",
    "resume_run",
    "set_run_budget",
    "get_task_detail",
    "get_agent_output",
}
AGENT_TOOLS = TICKET_TOOLS | {
    "create_task",
    "get_tasks",
    "get_task",
    "update_task_status",
    "get_agent_status",
    "whoami",
    "save_memory",
    "find_memories",
    "send_message",
    "broadcast_message",
    "give_validation_review",
    "submit_result",
    "get_result",
}
OPS_TOOLS = {
    "claim_task",
    "register_agent",
    "report_agent_exit",
    "renew_leases",
    "release_claim",
    "record_merge",
    "pending_merges",
    "take_merges",
    "record_lineage",
    "claim_land_requests",
    "record_land",
    "report_live_view",
    "record_analysis",
    "running_overlaps",
    "diagnose_stalled_runs",
    "cancel_task",
    "record_usage",
    "list_agents",
    "get_task",
    "workflow_status",
    "whoami",
}


async def _tool_names(client) -> set[str]:
    async with client:
        return {t.name for t in await client.list_tools()}


async def test_the_user_sees_exactly_the_user_tools(heph):
    assert await _tool_names(heph.user()) == USER_TOOLS


async def test_the_ops_role_sees_exactly_the_ops_tools(heph):
    assert await _tool_names(heph.ops()) == OPS_TOOLS


async def test_an_agent_sees_exactly_the_agent_tools(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    assert await _tool_names(heph.client(agent.token)) == AGENT_TOOLS


@pytest.mark.parametrize(
    "tool,args",
    [
        ("claim_task", {"worker": "w", "slots": 1}),
        ("update_task_status", {"status": "done", "summary": "x"}),
        ("record_merge", {"task_id": "t1", "state": "merged"}),
        ("claim_land_requests", {"worker": "w"}),
    ],
)
async def test_a_user_cannot_call_a_tool_of_another_role(heph, tool, args):
    async with heph.user() as user:
        result = await user.call_tool(tool, args, raise_on_error=False)
    assert result.is_error
    assert "Unknown tool" in result.content[0].text


async def test_an_agent_cannot_call_ops_or_user_only_tools(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        for tool, args in [
            ("claim_task", {"worker": "w", "slots": 1}),
            ("start_workflow", {"workflow": "bug_fix", "goal": "g"}),
            ("cancel_workflow", {"run": agent.run_id}),
            ("land_run", {"run": agent.run_id}),
            ("record_merge", {"task_id": agent.task_id, "state": "merged"}),
            (
                "record_lineage",
                {"task_id": agent.task_id, "lineage": {"start": "a" * 40, "holds": []}},
            ),
        ]:
            result = await client.call_tool(tool, args, raise_on_error=False)
            assert result.is_error, tool
    assert heph.db().execute("SELECT status FROM runs").fetchone()[0] == "active"


async def test_whoami_reports_the_principal_behind_the_token(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        me = (await client.call_tool("whoami", {})).structured_content
    assert me == {
        "id": agent.agent_id,
        "role": "agent",
        "run_id": agent.run_id,
        "task_id": agent.task_id,
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer heph_user_forged"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
)
async def test_a_request_without_a_known_bearer_token_gets_http_401(heph, headers):
    assert await heph.list_tools_status(headers) == 401


async def test_an_agent_token_stops_working_once_its_exit_is_reported(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        await ops.call_tool("report_agent_exit", {"agent_id": agent.agent_id, "reason": "done"})
    assert await heph.list_tools_status({"Authorization": f"Bearer {agent.token}"}) == 401


async def test_the_health_endpoint_needs_no_token(heph):
    async with heph.server.http_client() as http:
        response = await http.get("/healthz")
    assert response.status_code == 200 and response.json()["ok"] is True
