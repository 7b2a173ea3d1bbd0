"""The live board's cost on a real `heph serve`: building a snapshot, and how fast a change
reaches every open page.

    .venv/bin/python bench/board.py [--tasks 300] [--samples 50] [--pages 1,10]

1. GET /board/api/snapshot (everything the page shows) against two baselines measured on
   the same server in the same run: `workflow_status` over MCP (the run data alone) and
   GET /healthz (the HTTP floor).
2. Change-to-screen latency: with N pages connected to /board/events, the time from a
   change (a new task, created over MCP) until every page has received the new snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from control_plane import WORKFLOW, pct  # noqa: E402  (the same two-phase workflow)
from swarmkit import make_project  # noqa: E402

from heph_mcp.client import HephClient  # noqa: E402
from heph_mcp.identity import local_token  # noqa: E402
from testkit import ServerProcess  # noqa: E402

# measure(server, project, args, console): one bench's body, run on its own server
Measure = Callable[[ServerProcess, Path, argparse.Namespace, Console], Awaitable[None]]


async def timed(call, samples: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        await call()
        out.append(time.perf_counter() - start)
    return out


async def fill(user: HephClient, tasks: int, progress: Progress) -> str:
    await user.call("register_workflow", definition=WORKFLOW)
    run = (await user.call("start_workflow", workflow="bench", goal="measure the board"))["run_id"]
    bar = progress.add_task(f"creating {tasks} tasks", total=tasks)
    for i in range(tasks):
        await user.call(
            "create_task", run=run, phase=1 + i % 2, title=f"Task {i}: module {i * 7919 % 997}",
            description=f"Look into component {i} and report what it does ({i * 31 % 101}).",
        )  # fmt: skip
        progress.advance(bar)
    return str(run)


async def page(http: httpx.AsyncClient, seen: list[float], ready: asyncio.Event) -> None:
    """One open board page: records when each snapshot event arrives."""
    async with http.stream("GET", "/board/events") as response:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                seen.append(time.perf_counter())
                ready.set()


async def change_latency(  # type: ignore[no-untyped-def]
    url: str, token: str, user: HephClient, run: str, pages: int, rounds: int
):
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=None) as http:
        seen: list[list[float]] = [[] for _ in range(pages)]
        ready = [asyncio.Event() for _ in range(pages)]
        tasks = [asyncio.create_task(page(http, seen[i], ready[i])) for i in range(pages)]
        await asyncio.gather(*(r.wait() for r in ready))  # every page has its first snapshot
        latencies = []
        for _ in range(rounds):
            counts = [len(s) for s in seen]
            start = time.perf_counter()
            await user.call("create_task", run=run, phase=2, title=f"Change {start}",
                            description=f"A change the pages must show ({start}).")  # fmt: skip
            while any(len(s) == c for s, c in zip(seen, counts, strict=True)):
                await asyncio.sleep(0.005)
            latencies.append(max(s[-1] for s in seen) - start)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--pages", default="1,10")
    args = parser.parse_args()
    await on_a_fresh_server(measure, args, Console())


async def on_a_fresh_server(measure: Measure, args: argparse.Namespace, console: Console) -> None:
    """Run `measure` against a `heph serve` of its own, in a throwaway project."""
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp))
        server = ServerProcess(project).start(timeout=120)
        try:
            await measure(server, project, args, console)
        finally:
            server.stop()


async def measure(server: ServerProcess, project: Path, args, console: Console) -> None:  # type: ignore[no-untyped-def]
    secrets = project / ".hephaestus" / "secrets"
    token = local_token(secrets, "user")
    base = server.url.removesuffix("/mcp")
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        HephClient(server.url, token) as user,
        httpx.AsyncClient(base_url=base, headers=headers) as http,
    ):
        with Progress(console=console, transient=True) as progress:
            run = await fill(user, args.tasks, progress)
        snapshot = await timed(lambda: http.get("/board/api/snapshot"), args.samples)
        status = await timed(lambda: user.call("workflow_status", run=run), args.samples)
        floor = await timed(lambda: http.get("/healthz"), args.samples)
        size = len(json.dumps((await http.get("/board/api/snapshot")).json()))
        table = Table(title=f"board snapshot, one run of {args.tasks} tasks ({size // 1024} KiB)")
        for column in ("request", "p50 ms", "p99 ms", "p50 vs workflow_status"):
            table.add_column(column, justify="right")
        base_p50 = pct(status, 0.5)
        rows = {"GET /board/api/snapshot": snapshot, "workflow_status (MCP)": status,
                "GET /healthz": floor}  # fmt: skip
        for name, values in rows.items():
            p50, p99 = pct(values, 0.5), pct(values, 0.99)
            table.add_row(name, f"{p50:.1f}", f"{p99:.1f}", f"{p50 / base_p50:.2f}")
        console.print(table)
        live = Table(title="change -> every open page has the new snapshot")
        for column in ("pages", "p50 ms", "p99 ms", "max ms"):
            live.add_column(column, justify="right")
        for pages in [int(p) for p in args.pages.split(",")]:
            latencies = await change_latency(base, token, user, run, pages, 20)
            live.add_row(str(pages), f"{pct(latencies, 0.5):.0f}", f"{pct(latencies, 0.99):.0f}",
                         f"{max(latencies) * 1000:.0f}")  # fmt: skip
        console.print(live)
        console.print(f"(median snapshot {statistics.median(snapshot) * 1000:.1f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
