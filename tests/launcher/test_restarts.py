"""A launcher that stopped and starts again takes back what it left, however long it was away."""

from __future__ import annotations

import time

from swarmkit import running_swarm, scripted, swarm_settings

from heph_mcp.client import all_tasks_finished, merges_settled

TOPICS = [
    "Profile the database connection pool under load",
    "Translate the settings page into French",
]


def waiting_fan_out(gate: str) -> str:
    """A planner that queues two implementation tasks, each waiting for `gate` to appear."""
    return scripted(
        "Fan out two waiting tasks.",
        *[
            {
                "create_task": {
                    "phase": 2,
                    "title": topic,
                    "description": scripted(
                        topic,
                        {"wait_file": gate},
                        {"write": f"{n}.txt", "text": topic},
                        {"commit": topic},
                    ),
                }
            }
            for n, topic in enumerate(TOPICS)
        ],
        {"done": "fanned out"},
    )


def leases(swarm, run: str) -> list[float | None]:
    """The lease deadlines of the run's active tasks."""
    with swarm.db() as db:
        rows = db.execute(
            "SELECT lease_expires_at FROM tasks WHERE run_id = ?"
            " AND status IN ('claimed', 'running', 'validating')",
            (run,),
        ).fetchall()
    return [r[0] for r in rows]


async def test_a_launcher_back_after_its_leases_ran_out_adopts_its_live_sessions(project, embedder):
    settings = swarm_settings(project, lease_seconds=1.5)
    async with running_swarm(settings, embedder) as swarm:
        gate = swarm.exchange / "release"
        await swarm.start_launcher()
        run = await swarm.start(waiting_fan_out(str(gate)))
        await swarm.wait(run, lambda s: _waiters_only(s, len(swarm.tmux.panes())))
        await swarm.stop_launcher()  # its sessions keep running, as after a crash
        sessions = set(swarm.tmux.panes())
        # Away longer than the lease: every lease of the run has run out.
        await swarm.wait_until(lambda: all(t < time.time() for t in leases(swarm, run)))

        await swarm.start_launcher()
        # Its first pass (adopt, claim) is over once it renews the leases it holds.
        await swarm.wait_until(lambda: all(t > time.time() for t in leases(swarm, run)))
        gate.write_text("go")
        await swarm.wait(run, lambda s: all_tasks_finished(s) and merges_settled(s))

        with swarm.db() as db:
            agents = db.execute(
                "SELECT task_id, session_name, exit_reason FROM agents WHERE run_id = ?", (run,)
            ).fetchall()
            attempts = db.execute(
                "SELECT title, attempts FROM tasks WHERE run_id = ? AND phase = 2", (run,)
            ).fetchall()
    per_task = [a["task_id"] for a in agents]
    assert len(per_task) == len(set(per_task)) == 3, [tuple(a) for a in agents]
    assert not any("lease expired" in (a["exit_reason"] or "") for a in agents)
    assert {tuple(a) for a in attempts} == {(topic, 1) for topic in TOPICS}
    assert {a["session_name"] for a in agents} >= sessions


def _waiters_only(status: dict, panes: int) -> bool:
    """Exactly the phase-2 agents have sessions; the planner's is gone."""
    ids = {t["id"] for p in status["phases"] if p["phase"] == 2 for t in p["tasks"]}
    agents = [a["task_id"] for a in status["agents"]]
    return len(agents) == panes == len(TOPICS) and set(agents) <= ids
