"""Launcher latency and throughput with the real server, git worktrees, tmux and scripted agents.

    .venv/bin/python bench/launch.py [--tasks 200] [--slots 8] [--probes 20]

1. queued -> agent process running, with a free slot: a task is created, and
   the clock stops when tmux has started the agent's process (the agent CLI's
   own boot is excluded). Baseline in the same run: the floor of that work
   done by hand, one `git worktree add` plus one `tmux new-session` of the
   same command.
2. completions/s with N slots over many short scripted tasks queued at once
   (each agent connects, reads its task, reports done). Baseline in the same
   run: N slots divided by the agents' own mean lifetime (launch to reported
   done), i.e. the rate if merging, cleanup and claiming took no time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from swarmkit import AGENT, make_project, running_swarm, scripted, swarm_settings  # noqa: E402

from heph_mcp.client import all_tasks_finished  # noqa: E402
from heph_mcp.memory.embedder import LocalEmbedder  # noqa: E402
from launcher.git_repo import open_repo  # noqa: E402
from launcher.tmux import Tmux  # noqa: E402

console = Console()
TOPICS = [
    "parser", "cache", "login route", "scheduler", "exporter", "uploader", "search index",
    "date picker", "config loader", "invoice service", "websocket hub", "task queue",
]  # fmt: skip


def description(n: int) -> str:
    return scripted(f"Task {n}: tidy the {TOPICS[n % len(TOPICS)]} module.", {"done": f"#{n}"})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def launched_at(swarm, task_id: str, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for kind, data in reversed(swarm.events):
            if kind == "launched" and data["task_id"] == task_id:
                return float(data["at"])
        await asyncio.sleep(0.002)
    raise TimeoutError(f"task {task_id} was not launched")


async def ended(swarm, task_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(k == "ended" and d["task_id"] == task_id for k, d in swarm.events):
        assert time.monotonic() < deadline, f"task {task_id} did not end"
        await asyncio.sleep(0.01)


async def probe_latency(swarm, run: str, probes: int) -> list[float]:
    latencies = []
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("queued -> running (free slot)", total=probes)
        for n in range(probes):
            created = await swarm.user.create_task(run, 2, f"Probe {n}", description(n))
            queued = time.time()
            latencies.append(await launched_at(swarm, created["id"]) - queued)
            await ended(swarm, created["id"])  # the next probe finds the machine idle
            progress.advance(bar)
    return latencies


def floor_latency(project: Path, socket: str, samples: int) -> list[float]:
    """The same git + tmux work without the launcher: worktree add, then new-session."""
    repo, tmux, times = open_repo(project), Tmux(socket), []
    repo.ensure_branch("bench-base", "HEAD")
    for n in range(samples):
        start = time.time()
        path = project / ".hephaestus" / "bench-floor" / str(n)
        repo.add_worktree(path, f"bench-floor-{n}", "bench-base")
        tmux.start(f"floor-{n}", path, [sys.executable, str(AGENT), "--help"])
        times.append(time.time() - start)
        tmux.kill(f"floor-{n}")
        repo.remove_worktree(path)
    return times


async def throughput(swarm, run: str, tasks: int) -> tuple[float, list[float]]:
    ids = []
    start = time.time()  # agents start while the rest are still being queued
    for n in range(tasks):
        ids.append((await swarm.user.create_task(run, 2, f"Bulk task {n}", description(n)))["id"])
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task(f"{tasks} tasks", total=tasks)
        finished = 0
        while finished < tasks:
            ended = {d["task_id"] for k, d in swarm.events if k == "ended"}
            progress.update(bar, completed=len(ended & set(ids)))
            finished = len(ended & set(ids))
            await asyncio.sleep(0.05)
    elapsed = time.time() - start
    return tasks / elapsed, agent_lifetimes(swarm, set(ids))


def agent_lifetimes(swarm, ids: set[str]) -> list[float]:
    """Launch (tmux start) to the agent's own done report, per task."""
    launched = {d["task_id"]: d["at"] for k, d in swarm.events if k == "launched"}
    with swarm.db() as db:
        rows = db.execute("SELECT id, finished_at FROM tasks WHERE status = 'done'").fetchall()
    return [r["finished_at"] - launched[r["id"]] for r in rows if r["id"] in ids]


async def main(tasks: int, slots: int, probes: int) -> None:
    embedder = LocalEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp))
        settings = swarm_settings(project, max_concurrent_agents=slots, watch_interval=0.1)
        async with running_swarm(settings, embedder) as swarm:
            await swarm.start_launcher()
            run = await swarm.start(scripted("Bench run.", {"done": "ok"}))
            await swarm.wait(run, lambda s: all_tasks_finished(s) and not s["agents"])
            latency = await probe_latency(swarm, run, probes)
            floor = floor_latency(project, str(settings.tmux_socket), probes)
            rate, lifetimes = await throughput(swarm, run, tasks)
    embedder.close()
    report(latency, floor, rate, lifetimes, slots, tasks)


def report(latency, floor, rate, lifetimes, slots: int, tasks: int) -> None:
    table = Table(title="Launcher")
    for column in ("measure", "p50", "p99", "baseline p50", "ratio"):
        table.add_column(column)
    l50, f50 = statistics.median(latency), statistics.median(floor)
    table.add_row(
        "queued -> agent process running (s)",
        f"{l50:.3f}",
        f"{pct(latency, 0.99):.3f}",
        f"{f50:.3f} (git worktree + tmux by hand)",
        f"{l50 / f50:.2f}x",
    )
    ideal = slots / statistics.mean(lifetimes)
    table.add_row(
        f"completions/s, {slots} slots, {tasks} tasks",
        f"{rate:.2f}",
        "",
        f"{ideal:.2f} (slots / mean agent lifetime {statistics.mean(lifetimes):.2f}s)",
        f"{rate / ideal:.2f}",
    )
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--probes", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.slots, args.probes))
