"""Real Claude Code agents whose work depends on files another agent wrote and nobody merged.

An implementer writes greet.py with a typo; the tester it creates runs it, sees the typo and
creates a fix; the retest the fixer creates runs it again and sees the fix. Every merge waits
in the run's verify check until the test opens a gate, so heph/<run> holds none of that work
while the agents run: each saw it only because its worktree started from its creator's branch.
The scripted model (the test double for the LLM) decides from what the real `python3` printed.
"""

from __future__ import annotations

from typing import Any

from modelkit import in_workdir, last_user_text, task_title, text, tool_use, turns
from swarmkit import SCRIPTED

from heph_mcp.client import all_tasks_finished, merges_settled
from phases import Workflow


def workflow(gate: str) -> Workflow:
    definition = SCRIPTED.model_dump()
    # Until the agents' sandbox lands, any Bash command but git stops at Claude Code's
    # approval dialog: the agents that run the program get exactly this rule (the sandbox
    # replaces it).
    definition["phases"][1]["agent"] = {"allowed_tools": ["Bash(python3:*)"]}
    definition["phases"][2]["agent"] = {"allowed_tools": ["Bash(python3:*)"]}
    wait = f"while [ ! -e {gate} ]; do sleep 0.1; done"
    definition["config"] |= {"verify": {"command": wait, "timeout": 600}}
    return Workflow.model_validate(definition | {"name": "greeting_lineage"})


def mcp(tool: str, **arguments: Any) -> dict[str, Any]:
    return tool_use(f"mcp__hephaestus__{tool}", arguments)


def done(summary: str, status: str = "done") -> dict[str, Any]:
    return mcp("update_task_status", status=status, summary=summary)


def commit(message: str) -> dict[str, Any]:
    return tool_use("Bash", {"command": f"git add greet.py && git commit -q -m '{message}'"})


RUN_IT = tool_use("Bash", {"command": "python3 greet.py"})
PLANS: dict[str, list[dict[str, Any]]] = {
    "Analyse the goal": [
        mcp("create_task", phase=2, title="Write the greeting", description="greet.py greets."),
        done("planned the greeting"),
    ],
    "Write the greeting": [
        tool_use("Write", {"file_path": "{cwd}/greet.py", "content": "print('helo')\n"}),
        commit("add the greeting"),
        mcp("create_task", phase=3, title="Test the greeting",
            description="Run python3 greet.py; it must print hello."),
        done("greet.py committed; a tester is queued"),
    ],
    "Fix the greeting typo": [
        tool_use("Read", {"file_path": "{cwd}/greet.py"}),
        tool_use("Edit", {"file_path": "{cwd}/greet.py", "old_string": "helo",
                          "new_string": "hello"}),
        commit("fix the greeting typo"),
        mcp("create_task", phase=3, title="Retest the greeting",
            description="Run python3 greet.py again; it must print hello now."),
        done("fixed the typo; a retest is queued"),
    ],
}  # fmt: skip


def check(body: dict[str, Any], expect: str, then: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the program, then go on only if it printed `expect`; else fail saying what it saw."""
    step = turns(body)
    if step == 0:
        return RUN_IT
    seen = last_user_text(body)
    if step == 1 and f"{expect}\n" not in seen.replace("\\n", "\n") + "\n":
        return done(f"expected greet.py to print {expect}; it printed: {seen[:300]}", "failed")
    return then[step - 1] if step - 1 < len(then) else text("Done.")


def script(body: dict[str, Any]) -> list[dict[str, Any]]:
    title = task_title(body)
    if title == "Test the greeting":
        fix = mcp("create_task", phase=2, title="Fix the greeting typo",
                  description="greet.py prints helo; it must print hello.")  # fmt: skip
        return [check(body, "helo", [fix, done("greet.py printed helo; a fix is queued")])]
    if title == "Retest the greeting":
        return [check(body, "hello", [done("greet.py printed hello")])]
    plan = PLANS.get(title, [])
    step = turns(body)
    return [in_workdir(plan[step], body)] if step < len(plan) else [text("Done.")]


async def test_claude_agents_see_the_unmerged_work_they_come_from(claude_swarm, agents_model):
    gate = claude_swarm.exchange / "merges-may-land"
    agents_model.script = script
    await claude_swarm.user.register_workflow(workflow(str(gate)))
    await claude_swarm.start_launcher()
    run = await claude_swarm.start("Greet the user.", workflow="greeting_lineage")

    status = await claude_swarm.wait(
        run, lambda s: len(_tasks(s)) == 5 and all_tasks_finished(s), timeout=420
    )
    held = claude_swarm.git("ls-tree", "--name-only", f"heph/{run}").split()
    gate.write_text("open")
    await claude_swarm.wait(run, merges_settled, timeout=120)

    summaries = {t["title"]: t for t in _tasks(status)}
    assert {t["status"] for t in summaries.values()} == {"done"}
    assert "greet.py" not in held  # every agent saw work the run's branch did not hold
    assert claude_swarm.git("show", f"heph/{run}:greet.py") == "print('hello')"
    async with claude_swarm.ops() as ops:
        tester = await ops.call("get_task", task_id=summaries["Test the greeting"]["id"])
        retest = await ops.call("get_task", task_id=summaries["Retest the greeting"]["id"])
    assert tester["summary"] == "greet.py printed helo; a fix is queued"
    assert retest["summary"] == "greet.py printed hello"
    roles = {h["role"] for h in retest["lineage"]["holds"]}
    assert roles == {"run", "creator"}


def _tasks(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in status["phases"] for t in p["tasks"]]
