"""A ticket dependency chain through the real launcher: blocked work starts only after its
blocker's ticket resolves.

The phase-1 agent opens tickets A <- B <- C (B blocked by A, C blocked by B) and one
phase-2 task per ticket, C's and B's first, so only the blocking (not the queue's age
order) can hold them back. A's agent resolves its ticket explicitly before reporting;
B's and C's tickets resolve by themselves when their only task is done.
"""

from __future__ import annotations

import json

from swarmkit import SCRIPTED, scripted

from heph_mcp.client import all_tasks_finished, merges_settled
from phases import WorkflowConfig


def build(name: str, *extra: dict) -> str:
    return scripted(
        f"Build component {name} of the inventory service.",
        {"write": f"{name.lower()}.py", "text": f"COMPONENT = {name!r}\n"},
        {"commit": f"add component {name}"},
        *extra,
        {"done": f"{name} built"},
    )


def plan() -> str:
    def open_ticket(name: str, what: str, blocked_by: list[str]) -> dict:
        return {
            "call": "create_ticket",
            "args": {"title": f"{name}: {what}", "description": what, "blocked_by": blocked_by},
            "save_as": name,
        }

    def task_for(name: str, *extra: dict) -> dict:
        return {
            "call": "create_task",
            "args": {
                "phase": 2,
                "title": f"Build component {name}",
                "description": build(name, *extra),
                "ticket_id": f"${name}.id",
            },
        }

    resolve_own = {
        "call": "resolve_ticket",
        "args": {"ticket_id": "$task.ticket_id", "resolution": "a.py holds the data model"},
    }
    return scripted(
        "Plan the inventory service as three tickets that depend on each other.",
        open_ticket("A", "the data model", []),
        open_ticket("B", "the storage layer", ["$A.id"]),
        open_ticket("C", "the HTTP API", ["$B.id"]),
        task_for("C"),
        task_for("B"),
        task_for("A", resolve_own),
        {"done": "planned three tickets"},
    )


async def test_work_on_a_blocked_ticket_starts_only_after_its_blocker_resolves(swarm):
    board = SCRIPTED.model_copy(
        update={"name": "scripted_tickets", "config": WorkflowConfig(enable_tickets=True)}
    )
    await swarm.user.register_workflow(board)
    await swarm.start_launcher()
    started = await swarm.user.call("start_workflow", workflow="scripted_tickets", goal=plan())
    run = started["run_id"]

    await swarm.wait(run, lambda s: _count(s) == 4 and all_tasks_finished(s), timeout=120)
    await swarm.wait(run, merges_settled)

    tickets = {
        t["title"][0]: t for t in (await swarm.user.call("list_tickets", run=run))["tickets"]
    }
    views = {k: await swarm.user.call("get_ticket", ticket_id=t["id"]) for k, t in tickets.items()}
    resolved_at, started_at = _timeline(swarm, run)
    task_of = {k: v["tasks"][0]["id"] for k, v in views.items()}
    assert resolved_at[tickets["A"]["id"]] <= started_at[task_of["B"]]
    assert resolved_at[tickets["B"]["id"]] <= started_at[task_of["C"]]
    assert started_at[task_of["A"]] < started_at[task_of["B"]] < started_at[task_of["C"]]

    assert views["A"]["resolution"] == "a.py holds the data model"
    assert views["B"]["resolution"] == f"task {task_of['B']} done: B built"
    assert all(v["resolved"] and v["status"] == "done" for v in views.values())
    assert (views["B"]["blocked_by"], views["C"]["blocked_by"]) == (
        [tickets["A"]["id"]],
        [tickets["B"]["id"]],
    )
    for name, view in views.items():
        [commit] = view["commits"]
        assert commit["task_id"] == task_of[name]
        assert swarm.git("show", f"{commit['commit']}:{name.lower()}.py") == (
            f"COMPONENT = {name!r}"
        )


def _count(status: dict) -> int:
    return sum(1 for p in status["phases"] for t in p["tasks"])


def _timeline(swarm, run: str) -> tuple[dict[str, float], dict[str, float]]:
    """When each ticket resolved (events) and when each task's agent started (agents)."""
    with swarm.db() as db:
        events = db.execute(
            "SELECT detail, at FROM events WHERE run_id = ? AND kind = 'ticket_resolved'", (run,)
        ).fetchall()
        agents = db.execute(
            "SELECT task_id, MIN(started_at) FROM agents WHERE run_id = ? GROUP BY task_id",
            (run,),
        ).fetchall()
    resolved = {json.loads(detail)["ticket"]: at for detail, at in events}
    return resolved, {task_id: at for task_id, at in agents}
