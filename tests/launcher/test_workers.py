"""Workers on several hosts against one server: two `heph worker` processes, each in its own
clone, reaching the server only through its URL; the server host only merges."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from swarmkit import Swarm, running_swarm, scripted, swarm_settings
from workerkit import HEPH, WorkerProcess, clone_over_http, start_worker

from heph_mcp.client import all_tasks_finished, merges_settled
from heph_mcp.identity import local_token
from heph_mcp.memory.embedder import LocalEmbedder

TOPICS = [
    "Profile the database connection pool under load",
    "Translate the settings page into French",
    "Upgrade the logging library to the new major version",
    "Add keyboard shortcuts to the image editor",
    "Train the recommendation model on the new click data",
]
LEASE = 20.0  # short, so a dead worker's task comes back soon; long enough for a busy machine


@pytest.fixture
async def server(project: Path, embedder: LocalEmbedder) -> AsyncIterator[Swarm]:
    """The server host: the server, and a launcher with no slots that merges what workers
    push (`heph up --slots 0`)."""
    settings = swarm_settings(
        project, launcher_slots=0, worker_id="server-host", lease_seconds=LEASE
    )
    async with running_swarm(settings, embedder) as swarm:
        await swarm.start_launcher()
        yield swarm


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def agents_by_task(swarm: Swarm, run: str) -> dict[str, list[tuple[str, float, float | None]]]:
    """Each task's agents: (worker, started, ended), in start order."""
    with swarm.db() as db:
        rows = db.execute(
            "SELECT task_id, worker, started_at, ended_at FROM agents WHERE run_id = ?"
            " ORDER BY started_at",
            (run,),
        ).fetchall()
    found: dict[str, list[tuple[str, float, float | None]]] = {}
    for task, worker, started, ended in rows:
        found.setdefault(task, []).append((worker, started, ended))
    return found


def most_at_once(agents: dict[str, list[tuple[str, float, float | None]]], worker: str) -> int:
    """The most agents `worker` ran at the same moment."""
    marks = sorted(
        (t, step)
        for runs in agents.values()
        for w, started, ended in runs
        if w == worker
        for t, step in ((started, 1), (ended or float("inf"), -1))
    )
    most = now = 0
    for _, step in marks:
        now += step
        most = max(most, now)
    return most


def running_per_worker(swarm: Swarm, run: str) -> dict[str, int]:
    with swarm.db() as db:
        rows = db.execute(
            "SELECT worker, COUNT(*) FROM agents WHERE run_id = ? AND status = 'running'"
            " GROUP BY worker",
            (run,),
        ).fetchall()
    return dict(rows)


def gated(topic: str, n: int, gate: Path, requires: list[str] | None = None) -> dict:
    body = scripted(
        topic,
        {"wait_file": str(gate)},
        {"write": f"work-{n}.txt", "text": topic},
        {"commit": topic},
        {"done": topic},
    )
    task = {"phase": 2, "title": topic, "description": body}
    return {"create_task": task | ({"requires": requires} if requires else {})}


async def test_two_workers_share_a_run_within_their_slots_and_everything_merges_on_the_server(
    server: Swarm, workers: list[WorkerProcess], tmp_path: Path
):
    gate = server.exchange / "go"
    workers.append(start_worker(server.settings, tmp_path, "worker-gpu", slots=2, labels=("gpu",)))
    workers.append(start_worker(server.settings, tmp_path, "worker-plain", slots=2))
    goal = scripted(
        "Fan out four tasks, one of them needing a GPU.",
        gated(TOPICS[4], 4, gate, requires=["gpu"]),  # first: plain work cannot crowd it out
        *[gated(t, n, gate) for n, t in enumerate(TOPICS[:3])],
        {"done": "fanned out"},
    )
    run = await server.start(goal)

    # Four gated tasks fill both workers' two slots each.
    await server.wait(run, lambda s: running_per_worker(server, run) == {
        "worker-gpu": 2, "worker-plain": 2}, timeout=120)  # fmt: skip
    gate.write_text("go")
    status = await server.wait(run, all_tasks_finished, timeout=120)
    await server.wait(run, merges_settled, timeout=60)

    tasks = {t["title"]: t for p in status["phases"] for t in p["tasks"]}
    agents = agents_by_task(server, run)
    assert {w for runs in agents.values() for w, _, _ in runs} == {"worker-gpu", "worker-plain"}
    assert most_at_once(agents, "worker-gpu") == most_at_once(agents, "worker-plain") == 2
    assert [w for w, _, _ in agents[tasks[TOPICS[4]]["id"]]] == ["worker-gpu"]
    assert (await server.user.call("get_task", task_id=tasks[TOPICS[4]]["id"]))["requires"] == [
        "gpu"
    ]
    # Every worker's branch is merged into heph/<run> in the server's repository.
    for n, topic in [*enumerate(TOPICS[:3]), (4, TOPICS[4])]:
        assert server.git("show", f"heph/{run}:work-{n}.txt") == topic
    with server.db() as db:
        states = db.execute(
            "SELECT DISTINCT merge_state, merge_worker FROM tasks WHERE run_id = ?", (run,)
        ).fetchall()
    assert {tuple(s) for s in states} <= {("merged", "server-host"), ("nothing", "server-host")}


async def test_a_killed_worker_loses_nothing_it_pushed_and_its_task_finishes_elsewhere(
    server: Swarm, workers: list[WorkerProcess], tmp_path: Path
):
    workers.append(start_worker(server.settings, tmp_path, "worker-a", slots=1))
    goal = scripted(
        "Commit once, hang on the first attempt, finish on the second.",
        {"write": "first.txt", "text": "committed before the crash\n"},
        {"commit": "first"},
        {"hang_on_attempt": 1},
        {"write": "second.txt", "text": "after the crash\n"},
        {"commit": "second"},
        {"done": "finished on the second attempt"},
    )
    run = await server.start(goal)
    status = await server.wait(run, lambda s: bool(s["agents"]), timeout=60)
    task_id = status["agents"][0]["task_id"]
    branch = f"heph/{run}-{task_id}"

    def pushed() -> bool:
        return "committed" in _show(server, f"{branch}:first.txt")

    await server.wait_until(pushed, timeout=60)  # the running agent's commit reached the server
    first = server.git("rev-parse", branch)
    workers[0].kill9()
    workers.append(start_worker(server.settings, tmp_path, "worker-b", slots=1))

    status = await server.wait(run, all_tasks_finished, timeout=120)
    await server.wait(run, merges_settled, timeout=60)

    full = await server.user.call("get_task", task_id=task_id)
    assert (full["status"], full["attempts"]) == ("done", 2), workers[1].output()
    assert "lease expired" in (full["failure_reason"] or "")
    runs = agents_by_task(server, run)[task_id]
    assert [w for w, _, _ in runs] == ["worker-a", "worker-b"]
    (_, _, ended), (_, started, _) = runs
    assert ended is not None and ended <= started  # never two agents on it at once
    assert server.git("merge-base", "--is-ancestor", first, f"heph/{run}") == ""
    assert server.git("show", f"heph/{run}:second.txt") == "after the crash"


def _show(swarm: Swarm, spec: str) -> str:
    """`git show` in the server's repository; empty while the object is missing."""
    done = subprocess.run(
        ["git", "show", spec], cwd=swarm.settings.project, capture_output=True, text=True
    )
    return done.stdout


def worker_says(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(HEPH), "worker", *args], capture_output=True, text=True, timeout=120,
        env=os.environ | (env or {}),
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    return " ".join((done.stdout + done.stderr).split())


async def test_a_worker_without_the_right_credential_stops_with_the_fix(
    server: Swarm, tmp_path: Path
):
    clone = clone_over_http(server.settings, tmp_path / "clone")
    common = ["--server", server.settings.url, "--project", str(clone), "--agent-cli", "custom",
              "--agent-command", "true {brief}", "--no-sandbox"]  # fmt: skip
    assert "no ops token: copy the server host's .hephaestus/secrets/ops.token" in worker_says(
        *common
    )
    user = tmp_path / "user.token"
    user.write_text(local_token(server.settings.secrets_dir, "user"))
    said = worker_says(*common, "--token-file", str(user))
    assert "the token is a user token; a worker needs the server's ops token" in said
    said = worker_says(*common, env={"HEPH_OPS_TOKEN": "not-a-token"})
    assert "cannot reach the Hephaestus server" in said and "not-a-token" not in said
