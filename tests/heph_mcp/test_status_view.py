"""`heph status` rendering of a real workflow_status, with the Guardian's view."""

from __future__ import annotations

from rich.console import Console

from heph_mcp.status_view import render_status


async def test_the_status_view_shows_agents_with_their_guardian_state_and_recent_steers(heph):
    started = await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        await ops.call_tool(
            "record_analysis",
            {
                "agent_id": agent.agent_id, "judge": "heuristic", "state": "looping",
                "alignment": 0.3, "summary": "the same pytest failure four times",
                "steering": "Stop retrying the same fix.",
            },
        )  # fmt: skip
    async with heph.user() as user:
        status = await user.call_tool("workflow_status", {"run": started["run_id"]})
    console = Console(record=True, width=200)
    console.print(render_status(status.structured_content))
    text = console.export_text()
    assert agent.agent_id in text and "looping (0.3)" in text
    assert "the same pytest failure four times" in text
    assert "Recent steering" in text and "Stop retrying the same fix." in text
    assert "pending" in text
