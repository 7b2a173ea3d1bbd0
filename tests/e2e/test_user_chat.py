"""The user's own Claude Code: connected with the line `heph mcp-config` prints, then seeding a run.

Real `claude` binary, real `heph serve` process; the scripted model server is
the test double for the LLM only.
"""

from __future__ import annotations

import pytest
from claudekit import add_hephaestus, claude
from modelkit import last_user_text, text, tool_use

from heph_mcp.client import HephClient
from heph_mcp.identity import local_token
from testkit import ServerProcess


@pytest.fixture
def server(project):
    running = ServerProcess(project).start(timeout=120)
    yield running
    running.stop()


def test_claude_mcp_list_reports_hephaestus_connected_after_the_readme_line(
    project, server, agents_model
):
    add_hephaestus(project, server)
    listed = claude("mcp", "list", cwd=project)
    line = next(row for row in listed.stdout.splitlines() if row.startswith("hephaestus"))
    assert "✔ Connected" in line, listed.stdout


async def test_a_user_chat_starts_a_workflow_through_the_real_claude(project, server, agents_model):
    add_hephaestus(project, server)
    goal = "the CLI crashes on empty input"

    def chat(body):
        if "tool_result" in str(body["messages"][-1]["content"]):
            return [text("Started the bug_fix workflow.")]
        assert "start the bug_fix workflow" in last_user_text(body)
        return [tool_use("mcp__hephaestus__start_workflow", {"workflow": "bug_fix", "goal": goal})]

    agents_model.script = chat
    done = claude(
        "-p", f"start the bug_fix workflow for: {goal}",
        "--allowedTools", "mcp__hephaestus__start_workflow", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    user = HephClient(server.url, local_token(project / ".hephaestus" / "secrets", "user"))
    async with user:
        runs = (await user.status())["runs"]
    assert [(r["run"]["workflow"], r["run"]["goal"]) for r in runs] == [("bug_fix", goal)]
    assert "Started the bug_fix workflow." in done.stdout
