"""Validators and results through the real launcher: read-only checkouts, send-backs, stop_all."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from swarmkit import Swarm, running_swarm, scripted, swarm_settings

from heph_mcp.memory.embedder import LocalEmbedder
from phases import Workflow

CHECKED = Workflow.model_validate(
    {
        "name": "checked",
        "description": "Work a validator checks, ending in a validated result",
        "phases": [
            {"id": 1, "name": "analysis", "description": "Find out what to do."},
            {
                "id": 2,
                "name": "implementation",
                "description": "Change the code.",
                "validation": {
                    "enabled": True,
                    "criteria": ["hello.txt greets the user"],
                    "instructions": scripted(
                        "Read hello.txt.", {"review_file": "hello.txt", "expect": "hello"}
                    ),
                },
            },
            {"id": 3, "name": "report", "description": "Report the answer."},
        ],
        "config": {
            "max_concurrent_agents": 8,
            "has_result": True,
            "result_criteria": [scripted("The result names hello.txt", {"review": True})],
            "on_result_found": "stop_all",
        },
        "first_task": {"title": "Analyse the goal", "description": "{goal}"},
    }
)


def goal() -> str:
    """Plan -> a fix that fails its first review -> a report that waits for the fix."""
    report = scripted(
        "Report where the greeting lives.",
        {"submit_result": "The greeting is in hello.txt"},
        {"done": "result submitted"},
    )
    fix = scripted(
        "Write the greeting file.",
        {"write": "hello.txt", "text": "draft\n"},
        {"when_feedback": [{"write": "hello.txt", "text": "hello\n"}]},
        {"commit": "greeting"},
        {
            "create_task": {
                "phase": 3,
                "title": "Report the greeting",
                "description": report,
                "depends_on": ["$self"],
            }
        },  # fmt: skip
        {"done": "hello.txt written"},
    )
    return scripted(
        "Plan the greeting.",
        {"create_task": {"phase": 2, "title": "Write hello.txt", "description": fix}},
        {"done": "planned"},
    )


@pytest.fixture
async def swarm(project: Path, embedder: LocalEmbedder) -> AsyncIterator[Swarm]:
    async with running_swarm(swarm_settings(project), embedder, [CHECKED]) as running:
        yield running


async def test_a_fix_fails_review_once_then_passes_and_its_result_stops_the_whole_run(swarm):
    await swarm.start_launcher()
    run = await swarm.start(goal(), workflow="checked")
    async with swarm.ops() as ops:
        # Unrelated work still going when the answer is found: stop_all must end it.
        hang = await swarm.user.call(
            "create_task", run=run, phase=1, title="Keep digging",
            description=scripted("Dig forever.", {"sleep": 3600}),
        )  # fmt: skip
        blocked = await swarm.user.call(
            "create_task", run=run, phase=1, title="After digging", description="later",
            depends_on=[hang["id"]],
        )  # fmt: skip
        await swarm.wait(run, lambda s: s["run"]["status"] == "completed", timeout=120)
        await swarm.wait_until(lambda: not swarm.tmux.panes(), timeout=30)
        leftovers = (await ops.call("list_agents", run=run))["agents"]

    with swarm.db() as db:
        # Newest first, so a title's first task wins over a later duplicate of it.
        rows = db.execute("SELECT * FROM tasks WHERE run_id = ? ORDER BY rowid DESC", (run,))
        tasks = {r["title"]: dict(r) for r in rows}
        events = [(r["kind"], json.loads(r["detail"])) for r in db.execute(
            "SELECT kind, detail FROM events WHERE run_id = ? ORDER BY id", (run,))]  # fmt: skip
    reviews = [d for kind, d in events if kind == "review_given"]
    fix = tasks["Write hello.txt"]
    assert [kind for kind, _ in events if kind.startswith("validation_")] == [
        "validation_failed",
        "validation_passed",
    ]
    assert fix["status"] == "done" and fix["merge_state"] == "merged"
    assert swarm.git("show", f"heph/{run}:hello.txt") == "hello"
    # The validator saw the worker's uncommitted-then-committed file, read-only (no write bits).
    assert "mode 444: 'draft\\n'" in reviews[0]["evidence"][0]
    assert [r["passed"] for r in reviews] == [False, True, True]  # fix twice, then the result
    assert tasks["Report the greeting"]["status"] == "done"
    assert tasks["Keep digging"]["status"] == "cancelled" and blocked["status"] == "blocked"
    assert tasks["After digging"]["status"] == "cancelled"
    assert leftovers == [] and not swarm.tmux.panes()
    assert "Validate: Write hello.txt" in tasks and "Validate the run's result" in tasks
