"""The merge queue's throughput with a verify gate against without one, in the same run.

    .venv/bin/python bench/merge_queue.py [--merges 40] [--serial 15] [--rounds 5] [--files 300]

A real server (SQLite, MCP over HTTP), a real repository of `--files` files, and
the launcher's own MergeQueue with the ops role. Each round prepares `--merges`
task branches per run (one new file each, made with git plumbing, untimed), then
times submitting them all and draining the queue: every merge is reported
queued, merged on objects alone, and moves heph/<run> by compare-and-swap.

- merges/s through the queue of a run whose workflow says `verify: true`
  (checkout of the merged tree in the scratch worktree, the command, its report)
  against a run with no gate, rounds alternating; ratio gate / no gate. Twice:
  with `--merges` queued at once (the queue checks waiting merges as one batch)
  and with `--serial` merges one by one (each checked on its own).
- the time the gate adds beyond the command's own run time, per merge (the
  checkout, process start and the "verifying" report): p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from swarmkit import GIT_ENV, make_project  # noqa: E402

from heph_mcp.client import HephClient, LocalServer  # noqa: E402
from heph_mcp.identity import local_token  # noqa: E402
from heph_mcp.memory.embedder import LocalEmbedder  # noqa: E402
from heph_mcp.settings import load_settings  # noqa: E402
from launcher.git_repo import open_repo, run_branch  # noqa: E402
from launcher.merge_queue import MergeQueue  # noqa: E402
from phases import Workflow  # noqa: E402
from testkit import free_port  # noqa: E402

console = Console()


def workflow(name: str, verify: str | None) -> Workflow:
    return Workflow.model_validate({
        "name": name, "description": "bench", "config": {"verify": verify},
        "phases": [{"id": 1, "name": "implementation", "description": "merge"}],
    })  # fmt: skip


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENV, **(env or {})})  # fmt: skip
    return done.stdout.strip()


def fill(project: Path, files: int) -> None:
    """A project of a realistic size: the scratch checkout has to look at every file."""
    for n in range(files):
        folder = project / "src" / f"pkg{n % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module{n}.py").write_text(f"VALUE = {n}\n" * 20)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "a project to merge into")


def branch(project: Path, base: str, name: str, index: Path) -> None:
    """A task branch: `base` plus one new file, made on objects alone (fast, untimed)."""
    env = {"GIT_INDEX_FILE": str(index)}
    git(project, "read-tree", base, env=env)
    hashed = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=project, check=True,
                            input=f"{name}\n", capture_output=True, text=True)  # fmt: skip
    blob = hashed.stdout.strip()
    path = f"work/{name.replace('/', '_')}.txt"
    git(project, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
    tree = git(project, "write-tree", env=env)
    commit = git(project, "commit-tree", tree, "-p", base, "-m", f"work of {name}")
    git(project, "update-ref", f"refs/heads/{name}", commit)


async def prepare(user: HephClient, project: Path, run: str, count: int) -> list[dict[str, Any]]:
    tasks = []
    base = git(project, "rev-parse", run_branch(run))
    for n in range(count):
        task = await user.create_task(run, 1, f"Merge {n} of {run}", f"bench {n} {time.time()}")
        branch(project, base, f"heph/{run}-{task['id']}", project.parent / "bench.index")
        tasks.append(task)
    return tasks


async def drain(queue: MergeQueue, run: str, tasks: list[dict[str, Any]], serial: bool) -> float:
    """Merges/s: all submitted at once (the queue may batch their checks), or `serial`, each
    submitted once the one before has landed (every merge checked on its own)."""
    started = time.perf_counter()
    for task in tasks:
        await queue.submit(run, task["id"], task["title"])
        if serial:
            await queue.drain()
    await queue.drain()
    return len(tasks) / (time.perf_counter() - started)


async def measure(settings, merges: int, serial: int, rounds: int) -> dict[str, Any]:
    events: list[tuple[str, dict[str, Any]]] = []
    project = settings.project
    rates: dict[str, list[float]] = {"plain": [], "gate": [], "plain 1by1": [], "gate 1by1": []}
    async with HephClient(settings.url, local_token(settings.secrets_dir, "user")) as user:
        runs = {}
        for mode, verify in (("plain", None), ("gate", "true")):
            await user.register_workflow(workflow(f"bench_{mode}", verify))
            runs[mode] = (await user.start_workflow(f"bench_{mode}", "bench"))["run_id"]
            git(project, "branch", run_branch(runs[mode]), "HEAD")
        ops = HephClient(settings.url, local_token(settings.secrets_dir, "ops"))
        async with ops:
            queue = MergeQueue(
                open_repo(project), ops, settings, lambda k, d: events.append((k, d))
            )
            for _ in range(rounds):
                for mode in ("plain", "gate"):
                    tasks = await prepare(user, project, runs[mode], merges)
                    rates[mode].append(await drain(queue, runs[mode], tasks, serial=False))
                    tasks = await prepare(user, project, runs[mode], serial)
                    rates[f"{mode} 1by1"].append(await drain(queue, runs[mode], tasks, True))
            await queue.close()
        landed = {mode: git(project, "rev-list", "--count", "--first-parent", run_branch(run))
                  for mode, run in runs.items()}  # fmt: skip
    checks = [d for k, d in events if k == "verified"]
    merged = sum(1 for k, d in events if k == "merged" and d["state"] == "merged")
    assert all(d["passed"] for d in checks) and merged == 2 * (merges + serial) * rounds
    return {"rates": rates, "added": [d["gate"] - d["command"] for d in checks],
            "command": [d["command"] for d in checks], "landed": landed,
            "checks": len(checks)}  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(result: dict[str, Any], merges: int, serial: int, rounds: int, files: int) -> None:
    rate = {mode: statistics.median(values) for mode, values in result["rates"].items()}
    title = f"Merge queue: {rounds} rounds of {merges} queued + {serial} one by one, {files} files"
    table = Table(title=title)
    for column in ("measure", "p50", "p99", "baseline", "ratio"):
        table.add_column(column)
    table.add_row(
        f"merges/s, verify: true, {merges} queued at once",
        f"{rate['gate']:.1f}",
        "",
        f"{rate['plain']:.1f} (no gate)",
        f"{rate['gate'] / rate['plain']:.2f}",
    )
    table.add_row(
        "merges/s, verify: true, one by one",
        f"{rate['gate 1by1']:.1f}",
        "",
        f"{rate['plain 1by1']:.1f} (no gate)",
        f"{rate['gate 1by1'] / rate['plain 1by1']:.2f}",
    )
    table.add_row(
        "merges per check",
        f"{(merges + serial) * rounds / result['checks']:.1f}",
        "",
        "1 when one by one",
        "",
    )
    added, command = result["added"], result["command"]
    table.add_row("gate time beyond the command (s)", f"{statistics.median(added):.3f}",
                  f"{pct(added, 0.99):.3f}", f"command alone p50 {statistics.median(command):.3f}",
                  "")  # fmt: skip
    console.print(table)
    rounds_text = {m: [round(r, 1) for r in v] for m, v in result["rates"].items()}
    console.print(f"merges/s per round: {rounds_text}")
    console.print(f"first-parent commits on each run's branch: {result['landed']}")


async def main(merges: int, serial: int, rounds: int, files: int) -> None:
    embedder = LocalEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp))
        fill(project, files)
        settings = load_settings(project=project, port=free_port(), worker_id="bench",
                                 task_duplicate_threshold=0.999)  # fmt: skip
        with LocalServer(settings, embedder=embedder):
            result = await measure(settings, merges, serial, rounds)
    embedder.close()
    report(result, merges, serial, rounds, files)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--merges", type=int, default=40)
    parser.add_argument("--serial", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--files", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.merges, args.serial, args.rounds, args.files))
