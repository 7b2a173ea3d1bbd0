"""Control-plane latency over real HTTP: 1, 8 and 32 concurrent agents.

Each simulated agent gets a real token (claim + register through the ops
tools, not timed), then, all agents at once, loops create_task (which embeds
the task text for duplicate detection) + get_tasks
and finally reports its own task with update_task_status. The floor is the
no-op `whoami` tool on the same server, at the same concurrency, in the same
run. Runs get a workflow with a cap of 64 agents so 32 clients fit.

    .venv/bin/python bench/control_plane.py [--rounds 20] [--levels 1,8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
# The repo root first: tests/heph_mcp (test modules) must not shadow the package.
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from heph_mcp.client import HephCallError, HephClient  # noqa: E402
from heph_mcp.identity import local_token  # noqa: E402
from testkit import ServerProcess  # noqa: E402

WORKFLOW = {
    "name": "bench",
    "description": "benchmark",
    "config": {"max_concurrent_agents": 64},
    "phases": [
        {"id": 1, "name": "work", "description": "do it"},
        {"id": 2, "name": "more", "description": "more of it"},
    ],
}


class Recorder:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    async def timed(self, name: str, client: HephClient, tool: str, **args: object) -> dict:
        start = time.perf_counter()
        try:
            result = await client.call(tool, **args)
        except (HephCallError, OSError, RuntimeError):
            self.errors[name] += 1
            return {}
        self.samples[name].append(time.perf_counter() - start)
        return result


async def start_agent(url: str, ops_token: str, worker: str) -> dict:
    """What the launcher does: claim a task and register an agent; returns its session."""
    async with HephClient(url, ops_token) as ops:
        claim = await ops.call("claim_task", worker=worker, slots=1)
        task = claim["task"]
        return await ops.call(
            "register_agent",
            task_id=task["id"],
            worker=worker,
            session_name=f"bench-{task['id']}",
            cli="bench",
        )


AREAS = [
    "parser",
    "login route",
    "task queue",
    "cache",
    "CLI",
    "websocket hub",
    "exporter",
    "invoice service",
    "date picker",
    "uploader",
    "config loader",
    "scheduler",
]
PROBLEMS = [
    "drops the last line",
    "leaks a connection",
    "ignores the locale",
    "is not thread safe",
    "times out after 30 s",
    "logs secrets",
    "sorts by the wrong key",
    "reads everything",
]


def distinct_text(worker: str, i: int) -> str:
    """Task texts that differ in meaning, so duplicate detection keeps them all."""
    rng = random.Random(f"{worker}-{i}")
    return (
        f"The {rng.choice(AREAS)} {rng.choice(PROBLEMS)} when {rng.choice(AREAS)} "
        f"{rng.choice(PROBLEMS)}; case {rng.randrange(10**6)}."
    )


async def agent_loop(url: str, token: str, worker: str, rounds: int, rec: Recorder) -> None:
    """One agent's working life: create and list tasks, then report its own task done."""
    async with HephClient(url, token) as agent:
        for i in range(rounds):
            await rec.timed(
                "create_task",
                agent,
                "create_task",
                phase=1 + i % 2,
                title=f"{worker} follow-up {i}",
                description=distinct_text(worker, i),
            )
            await rec.timed("get_tasks", agent, "get_tasks", status="running")
        await rec.timed(
            "update_task_status", agent, "update_task_status", status="done", summary="benchmarked"
        )


async def floor_loop(url: str, token: str, calls: int, rec: Recorder) -> None:
    async with HephClient(url, token) as client:
        for _ in range(calls):
            await rec.timed("floor (whoami)", client, "whoami")


async def seed(url: str, user_token: str, tasks: int) -> str:
    """A run with one queued task per agent (the first task is made by start_workflow)."""
    async with HephClient(url, user_token) as user:
        await user.call("register_workflow", definition=WORKFLOW)
        run_id = (await user.start_workflow("bench", "benchmark run"))["run_id"]
        for i in range(tasks - 1):
            await user.create_task(run_id, phase=1, title=f"seed {i}", description="seed task")
    return run_id


async def level(server: ServerProcess, clients: int, rounds: int) -> tuple[Recorder, dict]:
    """Agents first, then the floor, at the same concurrency; returns samples and wall times."""
    secrets = server.project / ".hephaestus" / "secrets"
    user, ops = local_token(secrets, "user"), local_token(secrets, "ops")
    run_id = await seed(server.url, user, clients)
    sessions = [await start_agent(server.url, ops, f"w{run_id}-{n}") for n in range(clients)]
    rec = Recorder()
    start = time.perf_counter()
    await asyncio.gather(
        *(agent_loop(server.url, s["token"], f"w{n}", rounds, rec) for n, s in enumerate(sessions))
    )
    agents_wall = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.gather(*(floor_loop(server.url, user, rounds * 2, rec) for _ in range(clients)))
    floor_wall = time.perf_counter() - start
    async with HephClient(server.url, ops) as ops_client:
        for s in sessions:
            await ops_client.call("report_agent_exit", agent_id=s["agent_id"], reason="done")
    return rec, {"agents": agents_wall, "floor": floor_wall}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(console: Console, clients: int, rec: Recorder, wall: dict[str, float]) -> None:
    """calls/s: an op's calls over the wall time of the phase it ran in (mixed for agents)."""
    table = Table(title=f"{clients} concurrent client(s)")
    for col in ("op", "calls", "errors", "p50 ms", "p99 ms", "calls/s", "p50 / floor"):
        table.add_column(col, justify="right")
    floor = statistics.median(rec.samples["floor (whoami)"]) * 1000
    for name, values in rec.samples.items():
        seconds = wall["floor"] if name.startswith("floor") else wall["agents"]
        table.add_row(
            name,
            str(len(values)),
            str(rec.errors.get(name, 0)),
            f"{pct(values, 0.5):.2f}",
            f"{pct(values, 0.99):.2f}",
            f"{len(values) / seconds:.0f}",
            f"{pct(values, 0.5) / floor:.2f}x",
        )
    console.print(table)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--levels", default="1,8,32")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "hephaestus.toml").write_text("max_concurrent_agents = 64\n")
        server = ServerProcess(project).start()
        try:
            for clients in [int(n) for n in args.levels.split(",")]:
                with console.status(f"{clients} client(s) running..."):
                    rec, wall = await level(server, clients, args.rounds)
                report(console, clients, rec, wall)
                errors = sum(rec.errors.values())
                console.print(f"{clients} client(s): {errors} errors in all\n")
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
