"""A PRD-style run through the real launcher: tickets in a chain, a validator that sends the
work back once, a validated result, and stop_all leaving nothing behind.

The phase-1 agent opens three tickets, Greeting <- Report <- Docs, and one task for each.
The greeting fix fails its first review (a validator reads hello.txt in a read-only
checkout), is redone from the feedback, passes and is merged, which resolves its ticket and
releases the report. The report submits the run's result; its validator passes it, and
stop_all ends every session and cancels every open task, the docs work included.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from swarmkit import Swarm, running_swarm, scripted, swarm_settings

from heph_mcp.memory.embedder import LocalEmbedder
from phases import Workflow

PRD = Workflow.model_validate(
    {
        "name": "prd",
        "description": "Tickets, validated work and a validated result",
        "phases": [
            {"id": 1, "name": "analysis", "description": "Find out what to do."},
            {
                "id": 2,
                "name": "implementation",
                "description": "Change the code.",
                "validation": {
                    "enabled": True,
                    "criteria": ["hello.txt greets the user"],
                    # The validator tries to change what it judges first: as root, file
                    # modes would not stop it, the sandbox must.
                    "instructions": scripted(
                        "Read hello.txt.",
                        {"tamper": "hello.txt"},
                        {"review_file": "hello.txt", "expect": "hello"},
                    ),
                },
            },
            {"id": 3, "name": "report", "description": "Report the answer."},
        ],
        "config": {
            "max_concurrent_agents": 8,
            "enable_tickets": True,
            "has_result": True,
            "result_criteria": [scripted("The result names hello.txt", {"review": True})],
            "on_result_found": "stop_all",
        },
        "first_task": {"title": "Analyse the goal", "description": "{goal}"},
    }
)


def ticket(name: str, blocked_by: list[str]) -> dict[str, Any]:
    return {
        "call": "create_ticket",
        "args": {"title": name, "description": f"The {name.lower()}", "blocked_by": blocked_by},
        "save_as": name,
    }


def task(name: str, phase: int, title: str, *steps: dict[str, Any]) -> dict[str, Any]:
    description = scripted(f"{title}.", *steps)
    return {
        "call": "create_task",
        "args": {"phase": phase, "title": title, "description": description,
                 "ticket_id": f"${name}.id"},
    }  # fmt: skip


def plan() -> str:
    return scripted(
        "Plan the greeting as three tickets that depend on each other.",
        ticket("Greeting", []),
        ticket("Report", ["$Greeting.id"]),
        ticket("Docs", ["$Report.id"]),
        task("Docs", 3, "Document the greeting", {"sleep": 3600}),
        task("Report", 3, "Report the greeting",
             {"submit_result": "The greeting is in hello.txt"}, {"done": "result submitted"}),
        task("Greeting", 2, "Write hello.txt",
             {"write": "hello.txt", "text": "draft\n"},
             {"when_feedback": [{"write": "hello.txt", "text": "hello\n"}]},
             {"commit": "greeting"}, {"done": "hello.txt written"}),
        {"done": "planned"},
    )  # fmt: skip


@pytest.fixture
async def swarm(project: Path, embedder: LocalEmbedder) -> AsyncIterator[Swarm]:
    async with running_swarm(swarm_settings(project), embedder, [PRD]) as running:
        yield running


async def test_a_prd_run_chains_tickets_sends_work_back_once_and_stops_all_on_its_result(swarm):
    await swarm.start_launcher()
    run = await swarm.start(plan(), workflow="prd")
    # Work the user adds behind the docs: still waiting when the answer is found.
    planned = await swarm.wait(run, lambda s: _titled(s, "Document the greeting") is not None)
    blocked = await swarm.user.call(
        "create_task", run=run, phase=1, title="After the docs", description="later",
        depends_on=[_titled(planned, "Document the greeting")],
    )  # fmt: skip
    await swarm.wait(run, lambda s: s["run"]["status"] == "completed", timeout=150)
    await swarm.wait_until(lambda: not swarm.tmux.panes(), timeout=30)
    # A session's pane goes first; its exit is reported once its work is kept and cleaned up.
    await swarm.wait_until(lambda: not _running_agents(swarm, run), timeout=30)
    async with swarm.ops() as ops:
        leftovers = (await ops.call("list_agents", run=run))["agents"]

    tasks, events = _tasks_and_events(swarm, run)
    kinds = [kind for kind, _ in events]
    assert [k for k in kinds if k.startswith("validation_")] == [
        "validation_failed",
        "validation_passed",
    ]
    fix = tasks["Write hello.txt"]
    assert fix["status"] == "done" and fix["merge_state"] == "merged"
    assert swarm.git("show", f"heph/{run}:hello.txt") == "hello"
    reviews = [d for kind, d in events if kind == "review_given"]
    assert "mode 444: 'draft\\n'" in reviews[0]["evidence"][0]  # read-only, the worker's file
    assert [r["passed"] for r in reviews] == [False, True, True]  # the fix twice, the result
    # Each link of the chain starts only after the ticket it waits on is resolved.
    assert _started(events, tasks["Report the greeting"]) > _resolved(events, "Greeting", tasks)
    assert _started(events, tasks["Document the greeting"]) > _resolved(events, "Report", tasks)
    assert tasks["Report the greeting"]["status"] == "done"
    assert tasks["Document the greeting"]["status"] == "cancelled"  # running when stopped
    assert blocked["status"] == "blocked" and tasks["After the docs"]["status"] == "cancelled"
    assert not [t for t in tasks.values() if t["status"] in ("queued", "blocked", "running")]
    assert leftovers == [] and not swarm.tmux.panes()


def _titled(status: dict[str, Any], title: str) -> str | None:
    found = [t["id"] for p in status["phases"] for t in p["tasks"] if t["title"] == title]
    return found[0] if found else None


def _tasks_and_events(
    swarm: Swarm, run: str
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    with swarm.db() as db:
        # Newest first, so a title's first task wins over a later duplicate of it.
        rows = db.execute("SELECT * FROM tasks WHERE run_id = ? ORDER BY rowid DESC", (run,))
        tasks = {r["title"]: dict(r) for r in rows}
        events = [
            (r["kind"], {**json.loads(r["detail"]), "id": r["id"], "task_id": r["task_id"]})
            for r in db.execute("SELECT * FROM events WHERE run_id = ? ORDER BY id", (run,))
        ]
    return tasks, events


def _started(events: list[tuple[str, dict[str, Any]]], task: dict[str, Any]) -> int:
    return next(d["id"] for k, d in events if k == "agent_started" and d["task_id"] == task["id"])


def _resolved(events: list[tuple[str, dict[str, Any]]], name: str, tasks: dict) -> int:
    """The event id at which the ticket of the task titled for `name` was resolved."""
    ticket_of = {"Greeting": "Write hello.txt", "Report": "Report the greeting"}[name]
    ticket_id = tasks[ticket_of]["ticket_id"]
    return next(d["id"] for k, d in events if k == "ticket_resolved" and ticket_id in json.dumps(d))


def _running_agents(swarm, run: str) -> list[str]:
    with swarm.db() as db:
        rows = db.execute(
            "SELECT id FROM agents WHERE run_id = ? AND status = 'running'", (run,)
        ).fetchall()
    return [row["id"] for row in rows]
