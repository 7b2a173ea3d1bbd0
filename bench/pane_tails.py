"""What live pane tails cost the board's event stream, on a real `heph serve`.

    .venv/bin/python bench/pane_tails.py [--agents 10] [--pages 1] [--seconds 30]
                                         [--interval 2] [--lines 40]

Ten agents are registered on one run, as a launcher would. Two phases of equal length run
on the same server, in the same run of this script, with the same board pages connected to
/board/events:

1. none: no pane tails are reported (the baseline: snapshots and heartbeats only);
2. live: every `--interval` seconds (the launcher's `pane_tail_interval`) an ops client
   reports each agent's tail of `--lines` lines, a few new lines each time, as the
   launcher's LiveReporter does.

Per phase it prints the bytes/s and events/s each page received and the server process's
CPU % (user + system time from /proc over wall time), with the ratios against phase 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from board import on_a_fresh_server  # noqa: E402
from control_plane import WORKFLOW  # noqa: E402  (a workflow with a high agent cap)

from heph_mcp.client import HephClient  # noqa: E402
from heph_mcp.identity import local_token  # noqa: E402
from heph_mcp.printable import strip_terminal  # noqa: E402
from testkit import ServerProcess  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Page:
    """One open board page: counts the bytes and events its stream delivers."""

    def __init__(self) -> None:
        self.bytes = 0
        self.events = 0

    async def follow(self, http: httpx.AsyncClient) -> None:
        async with http.stream("GET", "/board/events") as response:
            async for chunk in response.aiter_text():
                self.bytes += len(chunk.encode())
                self.events += chunk.count("event: ")


class Panes:
    """Each agent's pane: a rolling buffer that gains a few lines per look."""

    def __init__(self, agents: list[str], lines: int) -> None:
        self.lines = lines
        self.buffers = {a: [] for a in agents}  # type: dict[str, list[str]]
        self.step = 0

    def tails(self) -> list[dict[str, str]]:
        self.step += 1
        out = []
        for n, (agent, buffer) in enumerate(self.buffers.items()):
            for k in range(3):
                buffer.append(f"\x1b[2m[{self.step:04d}.{k}]\x1b[0m agent {n}: ran pytest -q "
                              f"tests/test_module_{n}.py ... {self.step * 7 % 97} passed, "
                              f"{k} warnings in {0.01 * self.step:.2f}s")  # fmt: skip
            del buffer[: -self.lines]
            # Stripped as the launcher sends it (launcher/live_report.py): the server
            # refuses terminal escapes in any text field.
            out.append({"agent_id": agent, "text": strip_terminal("\n".join(buffer))})
        return out


async def register_agents(ops: HephClient, user: HephClient, count: int) -> list[str]:
    await user.call("register_workflow", definition=WORKFLOW)
    run = (await user.call("start_workflow", workflow="bench", goal="pane tails"))["run_id"]
    for i in range(count - 1):
        await user.call("create_task", run=run, phase=1, title=f"Module {i * 7919 % 997} work",
                        description=f"Work on component {i} ({i * 31 % 101}).")  # fmt: skip
    agents = []
    for _ in range(count):
        claim = await ops.call("claim_task", worker="bench", slots=count)
        task = claim["task"]
        if task is None:
            raise RuntimeError(f"no task to claim: {claim}")
        started = await ops.call("register_agent", task_id=task["id"], worker="bench",
                                 session_name=f"heph-{run}-{task['id']}", cli="claude")  # fmt: skip
        agents.append(started["agent_id"])
    return agents


async def phase(
    server: ServerProcess,
    pages: list[Page],
    seconds: float,
    interval: float,
    report: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, float]:
    assert server.proc is not None
    bytes0, events0 = [p.bytes for p in pages], [p.events for p in pages]
    cpu0, wall0 = cpu_seconds(server.proc.pid), time.perf_counter()
    end = wall0 + seconds
    while time.perf_counter() < end:
        if report is not None:
            await report()
        await asyncio.sleep(max(0.0, min(interval, end - time.perf_counter())))
    wall = time.perf_counter() - wall0
    cpu = cpu_seconds(server.proc.pid) - cpu0
    per_page = [(p.bytes - b) / wall for p, b in zip(pages, bytes0, strict=True)]
    events = [(p.events - e) / wall for p, e in zip(pages, events0, strict=True)]
    return {"bytes": sum(per_page) / len(pages), "events": sum(events) / len(pages),
            "cpu": 100 * cpu / wall}  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--pages", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args()
    os.environ["HEPH_MAX_CONCURRENT_AGENTS"] = str(max(4, args.agents))
    os.environ["HEPH_TASK_DUPLICATE_THRESHOLD"] = "0.999"  # look-alike bench tasks stay tasks
    await on_a_fresh_server(measure, args, Console())


async def measure(server: ServerProcess, project: Path, args, console: Console) -> None:  # type: ignore[no-untyped-def]
    secrets = project / ".hephaestus" / "secrets"
    user_token, ops_token = local_token(secrets, "user"), local_token(secrets, "ops")
    base = server.url.removesuffix("/mcp")
    headers = {"Authorization": f"Bearer {user_token}"}
    async with (
        HephClient(server.url, user_token) as user,
        HephClient(server.url, ops_token) as ops,
        httpx.AsyncClient(base_url=base, headers=headers, timeout=None) as http,
    ):
        agents = await register_agents(ops, user, args.agents)
        panes = Panes(agents, args.lines)
        pages = [Page() for _ in range(args.pages)]
        streams = [asyncio.create_task(p.follow(http)) for p in pages]
        await asyncio.sleep(1.0)  # every page has its first snapshot

        async def report() -> None:
            await ops.call("report_live_view", tails=panes.tails())

        results = {}
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task("measuring", total=2)
            results["none"] = await phase(server, pages, args.seconds, args.interval)
            progress.advance(bar)
            live = f"{args.agents} live tails"
            results[live] = await phase(server, pages, args.seconds, args.interval, report)
            progress.advance(bar)
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
    table = Table(
        title=f"board event stream, {args.pages} page(s), {args.agents} agents, tails of"
        f" {args.lines} lines every {args.interval:g} s, {args.seconds:g} s per phase"
    )
    for column in ("pane tails", "bytes/s per page", "events/s per page", "server CPU %",
                   "bytes vs none", "CPU vs none"):  # fmt: skip
        table.add_column(column, justify="right")
    none = results["none"]
    for name, r in results.items():
        table.add_row(name, f"{r['bytes']:.1f}", f"{r['events']:.2f}", f"{r['cpu']:.2f}",
                      _ratio(r["bytes"], none["bytes"]), _ratio(r["cpu"], none["cpu"]))  # fmt: skip
    console.print(table)


def _ratio(value: float, baseline: float) -> str:
    """A ratio, or what the baseline was when it sent nothing at all (no heartbeat fell in)."""
    return f"{value / baseline:.1f}x" if baseline > 0 else "baseline 0"


if __name__ == "__main__":
    asyncio.run(main())
