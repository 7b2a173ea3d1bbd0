"""Agents the launcher starts are confined: what one of them can see of the others and of us.

The scripted agent runs as a custom CLI, so the launcher wraps it in bubblewrap
from the same plan Claude Code's sandbox gets. While a first agent is still
running, a second one probes everything it should not reach.
"""

from __future__ import annotations

import json
from pathlib import Path

from swarmkit import scripted

from heph_mcp.client import all_tasks_finished, merges_settled
from launcher.sessions import session_name


async def test_an_agent_sees_its_own_worktree_and_brief_and_nothing_else_of_ours(swarm):
    settings = swarm.settings
    report, released = swarm.exchange / "probe.json", swarm.exchange / "released"
    probed = [
        settings.secrets_dir / "user.token",
        settings.secrets_dir / "ops.token",
        settings.db_path,
        settings.worktrees_dir,
        settings.agents_dir,
        settings.private_dir,
        Path("/etc/os-release"),
    ]
    prober = scripted(
        "Look around for things that are not yours.",
        {"probe": [str(p) for p in probed], "report_to": str(report)},
        {"write": "found.txt", "text": "probed\n"},
        {"commit": "probe results"},
        {"write": str(released), "text": "go"},
        {"done": "probed"},
    )
    goal = scripted(
        "Keep a session open while another agent looks around.",
        {"create_task": {"phase": 2, "title": "Probe", "description": prober}},
        {"wait_file": str(released)},
        {"done": "held"},
    )
    await swarm.start_launcher()
    run = await swarm.start(goal)
    await swarm.wait(run, lambda s: all_tasks_finished(s) and _done(s) == 2 and merges_settled(s))

    seen = json.loads(report.read_text())
    first = swarm.db().execute("SELECT id FROM tasks WHERE run_id = ? AND phase = 1", (run,))
    holder = session_name(run, first.fetchone()[0])
    assert seen[str(probed[0])].startswith("unreadable") and seen[str(probed[1])].startswith(
        "unreadable"
    )
    assert seen[str(probed[2])].startswith("unreadable")
    prober_tree = next(n for n in seen[str(probed[3])])  # only its own worktree is there
    assert seen[str(probed[3])] == [prober_tree] and prober_tree.startswith(f"{run}-")
    assert holder not in seen[str(probed[4])] and len(seen[str(probed[4])]) == 1
    assert holder not in seen[str(probed[5])] and len(seen[str(probed[5])]) == 1
    assert seen[str(probed[6])].startswith("read: ")  # the rest of the system is readable
    assert swarm.git("show", f"heph/{run}:found.txt") == "probed"


def _done(status: dict) -> int:
    return sum(p["counts"].get("done", 0) for p in status["phases"])
