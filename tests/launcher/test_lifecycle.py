"""Agent lifecycle under the launcher: conflicts, deaths, restarts, caps and hostile text."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from swarmkit import running_swarm, scripted, swarm_settings

from heph_mcp.client import all_tasks_finished, merges_settled

# Unrelated work, so duplicate detection keeps every one of them.
TOPICS = [
    "Profile the database connection pool under load",
    "Translate the settings page into French",
    "Upgrade the logging library to the new major version",
    "Add keyboard shortcuts to the image editor",
    "Write a migration that splits the address column",
    "Fix the flaky timezone test in the calendar export",
]


def tasks_by_title(status: dict) -> dict[str, dict]:
    return {t["title"]: t for p in status["phases"] for t in p["tasks"]}


def writer(text: str, content: str, gate: Path | None = None) -> str:
    steps = [{"wait_file": str(gate)}] if gate else []
    steps += [{"write": "shared.txt", "text": content}, {"commit": text}, {"done": text}]
    return scripted(text, *steps)


async def test_a_merge_conflict_queues_a_resolve_task_and_loses_nothing(swarm, tmp_path):
    gate = swarm.exchange / "both-written"
    goal = scripted(
        "Split the work on the shared file between two implementers.",
        *[
            {"create_task": {"phase": 2, "title": title, "description": writer(title, body, gate)}}
            for title, body in (
                ("Write the alpha version of the shared file", "alpha\n"),
                ("Draft release notes for the payment gateway", "beta\n"),
            )
        ],
        {"write": str(gate), "text": "go"},
        {"done": "split"},
    )
    await swarm.start_launcher()
    run = await swarm.start(goal)

    status = await swarm.wait(run, lambda s: len(tasks_by_title(s)) == 4 and all_tasks_finished(s))

    tasks = tasks_by_title(status)
    resolve = tasks["Resolve merge conflict in shared.txt"]
    assert resolve["phase"] == 2 and resolve["status"] == "done"
    full = await swarm.user.call("get_task", task_id=resolve["id"])
    conflicted = full["parent_task_id"]
    assert full["base_ref"] == f"heph/{run}-{conflicted}"
    await swarm.wait(run, merges_settled)
    # Both sides survive on the run branch: the resolver kept ours and theirs.
    merged = swarm.git("show", f"heph/{run}:shared.txt").splitlines()
    assert sorted(merged) == ["alpha", "beta"]
    with swarm.db() as db:
        states = dict(db.execute("SELECT id, merge_state FROM tasks WHERE run_id = ?", (run,)))
    assert states[conflicted] == "conflict"
    assert states[resolve["id"]] == "merged"


async def test_a_killed_session_is_retried_and_the_retry_finishes(swarm):
    goal = scripted(
        "Hang on the first attempt so the test can kill the session.",
        {"hang_on_attempt": 1},
        {"write": "second.txt", "text": "attempt 2\n"},
        {"commit": "second attempt"},
        {"done": "done on the second attempt"},
    )
    await swarm.start_launcher()
    run = await swarm.start(goal)
    first = await swarm.wait(run, lambda s: any(a for a in s["agents"]))
    session = first["agents"][0]["session_name"]
    await _until(lambda: "hanging on attempt 1" in swarm.tmux.capture(session))
    swarm.tmux.kill(session)

    status = await swarm.wait(run, all_tasks_finished)

    task = tasks_by_title(status)["Analyse the goal"]
    full = await swarm.user.call("get_task", task_id=task["id"])
    assert (full["status"], full["attempts"]) == ("done", 2)
    assert "session ended before it reported" in full["failure_reason"]
    await swarm.wait(run, merges_settled)
    assert swarm.git("show", f"heph/{run}:second.txt") == "attempt 2"


async def test_a_restarted_launcher_adopts_live_sessions_and_starts_no_duplicate(swarm, tmp_path):
    gate = swarm.exchange / "release"
    goal = scripted(
        "Fan out three waiting tasks.",
        *[
            {
                "create_task": {
                    "phase": 2,
                    "title": topic,
                    "description": scripted(
                        topic,
                        {"wait_file": str(gate)},
                        {"write": f"{n}.txt", "text": topic},
                        {"commit": topic},
                    ),
                }
            }
            for n, topic in enumerate(TOPICS[:3])
        ],
        {"done": "fanned out"},
    )
    await swarm.start_launcher()
    run = await swarm.start(goal)
    # The three waiting agents run and the planner's finished session is gone.
    await swarm.wait(run, lambda s: _only_waiters_running(s, len(swarm.tmux.panes())))
    await swarm.stop_launcher()  # sessions keep running, as after a crash
    sessions_before = set(swarm.tmux.panes())

    await swarm.start_launcher()
    await asyncio.sleep(0)  # let the new launcher adopt before the gate opens
    await swarm.wait(run, lambda s: len(s["agents"]) == 3)
    gate.write_text("go")
    await swarm.wait(run, lambda s: all_tasks_finished(s) and merges_settled(s))

    with swarm.db() as db:
        per_task = db.execute(
            "SELECT task_id, COUNT(*) FROM agents WHERE run_id = ? GROUP BY task_id", (run,)
        ).fetchall()
    assert all(count == 1 for _, count in per_task), per_task
    assert len(sessions_before) == 3
    # Adopted sessions merge like any other, under their task's title.
    merges = swarm.git("log", f"heph/{run}", "--merges", "--format=%s").splitlines()
    assert sorted(m.split(": ", 1)[1] for m in merges) == sorted(TOPICS[:3])


async def test_the_concurrency_cap_is_never_exceeded(project, embedder, tmp_path):
    settings = swarm_settings(project, max_concurrent_agents=2)
    goal = scripted(
        "Queue six small tasks.",
        *[
            {
                "create_task": {
                    "phase": 2,
                    "title": topic,
                    "description": scripted(topic, {"write": f"{n}.txt", "text": topic}),
                }
            }
            for n, topic in enumerate(TOPICS)
        ],
        {"done": "queued six"},
    )
    async with running_swarm(settings, embedder) as swarm:
        await swarm.start_launcher()
        run = await swarm.start(goal)
        await swarm.wait(run, lambda s: len(tasks_by_title(s)) == 7 and all_tasks_finished(s))
        await swarm.wait(run, lambda s: not s["agents"])
        with swarm.db() as db:
            spans = db.execute("SELECT started_at, ended_at FROM agents").fetchall()
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, delta in points:
        running += delta
        peak = max(peak, running)
    assert len(spans) == 7
    assert peak == 2


async def test_hostile_task_text_reaches_the_agent_intact_and_nothing_executes(swarm, tmp_path):
    marker = Path("/tmp") / f"pwned-{uuid.uuid4().hex}"
    hostile = f'\'; rm -rf ~ $(touch {marker}) `touch {marker}` "$(id)" && echo $HOME; \\ \n'
    copy = swarm.exchange / "description-seen.txt"
    brief_copy = swarm.exchange / "brief-seen.md"
    goal = scripted(hostile, {"copy_description": str(copy)}, {"copy_brief": str(brief_copy)})
    await swarm.start_launcher()
    run = await swarm.start(goal)

    await swarm.wait(run, all_tasks_finished)

    assert copy.read_text() == goal
    assert hostile.strip() in brief_copy.read_text()
    assert not marker.exists()


def _only_waiters_running(status: dict, panes: int) -> bool:
    """Exactly the three phase-2 agents have sessions; the planner's is gone."""
    ids = {t["id"] for p in status["phases"] if p["phase"] == 2 for t in p["tasks"]}
    agents = [a["task_id"] for a in status["agents"]]
    return len(agents) == panes == 3 and set(agents) <= ids


async def _until(condition, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_an_agent_that_never_calls_the_server_fails_with_its_pane_as_the_reason(
    project, embedder
):
    command = "bash -c 'echo Please log in to continue; sleep 600'"
    settings = swarm_settings(project, agent_command=command, start_timeout=1.5)
    async with running_swarm(settings, embedder) as swarm:
        await swarm.start_launcher()
        run = await swarm.start("Anything at all.")
        status = await swarm.wait(run, all_tasks_finished, failures=True)
        task = await swarm.user.call("get_task", task_id=status["phases"][0]["tasks"][0]["id"])
        await swarm.wait(run, lambda s: not s["agents"], failures=True)
        assert swarm.tmux.panes() == {}
    assert (task["status"], task["attempts"]) == ("failed", 2)
    assert "no MCP call within 2s" in task["failure_reason"]
    assert "Please log in to continue" in task["failure_reason"]
    assert "held by" not in task["failure_reason"]  # a line of text, not a dialog


async def test_an_agent_held_by_a_dialog_at_start_fails_with_the_dialog_named(project, embedder):
    trust = Path(__file__).parents[1] / "data" / "panes" / "trust.txt"
    command = f"bash -c 'cat {trust}; sleep 600'"
    settings = swarm_settings(project, agent_command=command, start_timeout=1.5, max_attempts=1)
    async with running_swarm(settings, embedder) as swarm:
        await swarm.start_launcher()
        run = await swarm.start("Anything at all.")
        status = await swarm.wait(run, all_tasks_finished, failures=True)
        task = await swarm.user.call("get_task", task_id=status["phases"][0]["tasks"][0]["id"])
    assert task["failure_reason"].startswith(
        "the agent made no MCP call within 2s of starting: it was held by Claude Code's trust"
        ' dialog ("Is this a project you created or one you trust?"); last lines of its pane:\n'
    )
    assert task["failure_reason"].endswith("Enter to confirm · Esc to cancel")


async def test_cancelling_a_run_ends_its_sessions_and_no_other(swarm, tmp_path):
    gate = swarm.exchange / "never"
    await swarm.start_launcher()
    doomed = await swarm.start(scripted("Wait forever (doomed).", {"wait_file": str(gate)}))
    kept = await swarm.start(scripted(TOPICS[0], {"wait_file": str(gate)}))
    await swarm.wait(doomed, lambda s: len(s["agents"]) == 1)
    await swarm.wait(kept, lambda s: len(s["agents"]) == 1)

    cancelled = await swarm.user.call("cancel_workflow", run=doomed)

    assert len(cancelled["running_agents"]) == 1
    await _until(lambda: set(swarm.tmux.panes()) == {f"heph-{kept}-" + _only_task(swarm, kept)})
    await swarm.wait(doomed, lambda s: not s["agents"])
    status = (await swarm.user.status(kept))["runs"][0]
    assert len(status["agents"]) == 1


def _only_task(swarm, run: str) -> str:
    with swarm.db() as db:
        return db.execute("SELECT id FROM tasks WHERE run_id = ?", (run,)).fetchone()[0]
