"""Whole runs through the real launcher: tmux sessions, git worktrees, merges."""

from __future__ import annotations

from swarmkit import SCRIPTED, running_swarm, scripted, swarm_settings

from heph_mcp.client import all_tasks_finished, merges_settled
from phases import AgentSpec


def branching_goal() -> str:
    """Phase 1 -> phase 2 -> phase 3, and phase 3 discovers new phase-1 work."""
    discovery = scripted(
        "Investigate why the logger drops unicode characters in file names.",
        {"write": "notes/unicode.md", "text": "loggers encode with ascii\n"},
        {"commit": "notes on the unicode logger"},
        {"done": "investigated"},
    )
    validate = scripted(
        "Run the greeting program and check that it prints a friendly greeting.",
        {
            "create_task": {
                "phase": 1,
                "title": "Investigate unicode loss in the logger",
                "description": discovery,
            }
        },
        {"done": "greeting checked"},
    )
    implement = scripted(
        "Write the greeting module that says hello to the user by name.",
        {"write": "greet.py", "text": "def greet(name):\n    return f'hello {name}'\n"},
        {"commit": "add greet"},
        {"create_task": {"phase": 3, "title": "Validate the greeting", "description": validate}},
        {"done": "greet.py written"},
    )
    return scripted(
        "Plan a greeting feature for the command line tool.",
        {"create_task": {"phase": 2, "title": "Implement greet()", "description": implement}},
        {"done": "planned"},
    )


async def test_a_three_phase_run_that_branches_completes_with_every_merge_on_the_run_branch(
    swarm,
):
    (swarm.settings.project / "dirty.txt").write_text("the user's uncommitted work\n")
    head_before = swarm.git("rev-parse", "HEAD")
    status_before = swarm.git("status", "--porcelain")
    await swarm.start_launcher()
    run = await swarm.start(branching_goal())

    status = await swarm.wait(run, lambda s: _done_count(s) == 4 and all_tasks_finished(s))

    phases = [(t["phase"], t["title"]) for p in status["phases"] for t in p["tasks"]]
    assert sorted(phases) == [
        (1, "Analyse the goal"),
        (1, "Investigate unicode loss in the logger"),
        (2, "Implement greet()"),
        (3, "Validate the greeting"),
    ]
    await swarm.wait(run, merges_settled)
    assert swarm.git("show", f"heph/{run}:greet.py").startswith("def greet")
    assert swarm.git("show", f"heph/{run}:notes/unicode.md") == "loggers encode with ascii"
    with swarm.db() as db:
        states = [
            r[0] for r in db.execute("SELECT merge_state FROM tasks WHERE run_id = ?", (run,))
        ]
    assert sorted(states) == ["merged", "merged", "nothing", "nothing"]
    # The user's checkout is untouched: same HEAD, same dirty file, nothing new staged.
    assert swarm.git("rev-parse", "HEAD") == head_before
    assert swarm.git("status", "--porcelain") == status_before
    assert swarm.git("branch", "--list", f"heph/{run}-*") == ""
    assert not list(swarm.settings.worktrees_dir.glob("*"))
    logs = sorted(swarm.settings.logs_dir.glob("*.log"))
    assert len(logs) == 4 and all("[scripted-agent] task" in f.read_text() for f in logs)
    assert swarm.tmux.panes() == {}


def _done_count(status: dict) -> int:
    return sum(1 for p in status["phases"] for t in p["tasks"] if t["status"] == "done")


async def test_a_phases_own_agent_cli_overrides_the_launchers_default(project, embedder):
    settings = swarm_settings(project, agent_cli="gemini")  # not installed here
    custom = SCRIPTED.model_copy(
        update={
            "name": "own_cli",
            "phases": [
                p.model_copy(update={"agent": AgentSpec(cli="custom")}) for p in SCRIPTED.phases
            ],
        }
    )
    async with running_swarm(settings, embedder) as swarm:
        await swarm.user.register_workflow(custom)
        await swarm.start_launcher()
        started = await swarm.user.call("start_workflow", workflow="own_cli", goal="Say hi.")
        status = await swarm.wait(started["run_id"], all_tasks_finished)
        with swarm.db() as db:
            clis = [r[0] for r in db.execute("SELECT cli FROM agents")]
    assert status["phases"][0]["counts"] == {"done": 1}
    assert clis == ["custom"]
