"""Real Claude Code sessions launched by the launcher, calling the real hephaestus tools.

Each `claude` runs in tmux in its own worktree with its own MCP config and token.
The scripted model (the test double for the LLM) picks each agent's next step
from the task title in its brief and from how many turns it has taken.
"""

from __future__ import annotations

import asyncio
from typing import Any

from modelkit import in_workdir, last_user_text, task_title, text, tool_use, turns

from guardian.guardian import Guardian
from heph_mcp.client import all_tasks_finished, merges_settled

PLANS = {
    "Analyse the goal": [
        tool_use(
            "mcp__hephaestus__create_task",
            {"phase": 2, "title": "Write the greeting", "description": "Create hello.txt."},
        ),
        tool_use(
            "mcp__hephaestus__update_task_status",
            {"status": "done", "summary": "planned one implementation task"},
        ),
    ],
    "Write the greeting": [
        tool_use("Write", {"file_path": "{cwd}/hello.txt", "content": "hello from claude\n"}),
        tool_use("Bash", {"command": "git add hello.txt && git commit -q -m 'add greeting'"}),
        tool_use(
            "mcp__hephaestus__update_task_status",
            {"status": "done", "summary": "hello.txt committed"},
        ),
    ],
}


def script(body: dict[str, Any]) -> list[dict[str, Any]]:
    plan = PLANS.get(task_title(body), [])
    step = turns(body)
    if step >= len(plan):
        return [text("Done.")]
    return [in_workdir(plan[step], body)]


async def test_claude_agents_plan_implement_commit_and_merge_through_hephaestus(
    claude_swarm, agents_model
):
    agents_model.script = script
    await claude_swarm.start_launcher()
    run = await claude_swarm.start("Greet the user.")

    status = await claude_swarm.wait(
        run, lambda s: sum(p["counts"].get("done", 0) for p in s["phases"]) == 2, timeout=180
    )
    await claude_swarm.wait(run, merges_settled, timeout=60)

    assert all_tasks_finished(status)
    assert claude_swarm.git("show", f"heph/{run}:hello.txt") == "hello from claude"
    panes = [f.read_text() for f in claude_swarm.settings.logs_dir.glob("*.log")]
    assert len(panes) == 2 and all("Claude Code v2.1.331" in p for p in panes)


async def test_the_guardian_steers_a_real_claude_agent_through_the_guidance_prompt(
    claude_swarm, agents_model
):
    def forgetful(body: dict[str, Any]) -> list[dict[str, Any]]:
        """Works, then sits idle without reporting, until guidance arrives."""
        if "Guidance from Hephaestus" in last_user_text(body):
            return [tool_use(
                "mcp__hephaestus__update_task_status",
                {"status": "done", "summary": "reported after the Guardian's reminder"},
            )]  # fmt: skip
        return [text("I think the analysis is complete.")]

    agents_model.script = forgetful
    await claude_swarm.start_launcher()
    run = await claude_swarm.start("Analyse the crash.")
    await claude_swarm.wait(run, lambda s: len(s["agents"]) == 1)
    guardian = Guardian(
        claude_swarm.ops(), claude_swarm.tmux, worker=claude_swarm.settings.worker_id
    )
    async with guardian.client:
        for _ in range(120):  # bounded: 0.5 s apart
            await guardian.cycle()
            status = (await claude_swarm.user.status(run))["runs"][0]
            if status["phases"][0]["counts"].get("done"):
                break
            await asyncio.sleep(0.5)
    first = status["phases"][0]["tasks"][0]
    assert (first["title"], first["status"]) == ("Analyse the goal", "done")
    guided = [r for r in agents_model.requests if "Guidance from Hephaestus" in last_user_text(r)]
    assert guided and "update_task_status" in last_user_text(guided[0])
    with claude_swarm.db() as db:
        via = db.execute("SELECT delivered_via FROM guidance").fetchall()
    assert [tuple(r) for r in via] == [("prompt",)]
