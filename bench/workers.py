"""Completions/s with two workers of 4 slots against one worker of 8, against one server.

    .venv/bin/python bench/workers.py [--tasks 40] [--rounds 1]

Each worker is a real `heph worker` process in its own clone (made over the
server's /git/ URL), with its own tmux server, reaching the server only
through its URL; the server host runs a launcher with no slots that merges
what the workers push. The same scripted agents (each connects, reads its
task, commits a file, reports done) run in the same run for both setups,
one after the other: first 1 worker x 8 slots (the baseline), then 2 workers
x 4 slots. A setup's rate is its tasks divided by the time from queueing the
first to the last one reported done; rounds alternate which setup goes first,
and each starts once the previous setup's merges have all landed. The goal is
a ratio >= 0.9: spreading the slots over hosts costs little coordination.
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

from launch import TOPICS  # noqa: E402  (the same task topics as the launch bench)
from swarmkit import Swarm, make_project, running_swarm, scripted, swarm_settings  # noqa: E402
from workerkit import WorkerProcess, start_worker  # noqa: E402

from heph_mcp.client import all_tasks_finished, merges_settled  # noqa: E402
from heph_mcp.memory.embedder import LocalEmbedder  # noqa: E402

console = Console()


def description(n: int) -> str:
    text = f"Task {n}: tidy the {TOPICS[n % len(TOPICS)]} module."
    return scripted(text, {"write": f"bench-{n}.txt", "text": text}, {"commit": text},
                    {"done": f"#{n}"})  # fmt: skip


def finished_at(swarm: Swarm, ids: list[str]) -> list[float]:
    marks = ", ".join("?" * len(ids))
    with swarm.db() as db:
        rows = db.execute(
            f"SELECT finished_at FROM tasks WHERE status = 'done' AND id IN ({marks})", ids
        ).fetchall()
    return [r[0] for r in rows]


async def batch(swarm: Swarm, run: str, label: str, first: int, tasks: int) -> float:
    """Queue `tasks` tasks at once; completions/s until the last one is reported done."""
    start = time.time()
    ids = []
    for n in range(first, first + tasks):
        created = await swarm.user.create_task(run, 2, f"Bench task {n}", description(n))
        ids.append(created["id"])
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task(label, total=tasks)
        while len(done := finished_at(swarm, ids)) < tasks:
            progress.update(bar, completed=len(done))
            await asyncio.sleep(0.2)
    return tasks / (max(done) - start)


async def setup(
    swarm: Swarm, root: Path, run: str, shape: tuple[int, int], first: int, tasks: int
) -> float:
    count, slots = shape
    folder = root / f"{count}x{slots}-{first}"
    folder.mkdir()
    workers: list[WorkerProcess] = []
    try:
        for n in range(count):
            workers.append(
                start_worker(swarm.settings, folder, f"worker-{n}", slots=slots, watch_interval=0.5)
            )
        for worker in workers:
            await worker.ready()  # the clock starts once every worker can claim
        rate = await batch(swarm, run, f"{count} worker(s) x {slots} slots", first, tasks)
        # The workers end their last sessions and hand over their branches before they stop;
        # the next setup starts once every merge has landed.
        await swarm.wait(run, all_tasks_finished, timeout=300)
        await swarm.wait(run, merges_settled, timeout=300)
        return rate
    finally:
        for worker in workers:
            worker.stop()


async def main(tasks: int, rounds: int) -> None:
    embedder = LocalEmbedder()
    rates: dict[tuple[int, int], list[float]] = {(1, 8): [], (2, 4): []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project = make_project(root)
        settings = swarm_settings(
            project, launcher_slots=0, worker_id="server-host", watch_interval=0.1,
            task_duplicate_threshold=0.999,
        )  # fmt: skip
        async with running_swarm(settings, embedder) as swarm:
            await swarm.start_launcher()  # the server host: merges only
            run = await swarm.start(scripted("Bench run.", {"done": "ok"}))
            first = 0
            for n in range(rounds):
                # Alternate which setup goes first, so neither always follows the other.
                for shape in list(rates)[:: 1 if n % 2 == 0 else -1]:
                    rates[shape].append(await setup(swarm, root, run, shape, first, tasks))
                    first += tasks
    embedder.close()
    report(rates, tasks)


def report(rates: dict[tuple[int, int], list[float]], tasks: int) -> None:
    table = Table(title=f"Workers: completions/s, {tasks} scripted tasks per setup")
    for column in ("setup", "completions/s (median)", "each round", "ratio to 1 x 8"):
        table.add_column(column)
    base = statistics.median(rates[(1, 8)])
    for (count, slots), values in rates.items():
        rate = statistics.median(values)
        each = ", ".join(f"{v:.2f}" for v in values)
        table.add_row(f"{count} worker(s) x {slots} slots", f"{rate:.2f}", each,
                      f"{rate / base:.2f}")  # fmt: skip
    console.print(table)
    ratio = statistics.median(rates[(2, 4)]) / base
    console.print(f"ratio 2x4 / 1x8 = {ratio:.2f} (goal >= 0.9)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.rounds))
