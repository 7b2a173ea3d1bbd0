"""Chaos: a launcher killed with SIGKILL at chosen points and started again, sometimes only after
its leases ran out, still ends every task once and merges its work once, leaves no session,
worktree or branch behind, and never runs more agents than the cap.

The launcher runs in a process of its own (chaos_launcher.py) that kills itself at one call
of its real adapters: after a claim, a registration, a session start or a branch move; before
a merge report, an exit report or a branch deletion; after a session kill or a worktree
removal. HEPH_CHAOS_SEED picks another sequence; the counts are printed for the closing note.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from swarmkit import Swarm, running_swarm, scripted, swarm_values

from heph_mcp.settings import load_settings

pytestmark = pytest.mark.slow
CHAOS = Path(__file__).parent / "chaos_launcher.py"
POINTS = [
    "claim", "register", "start", "brief", "merge", "merge_report",
    "cleanup", "cleanup_worktree", "cleanup_report", "cleanup_branch",
]  # fmt: skip
CAP = 3
RUNS = 2
WORKERS = 3  # implementation tasks per run, after its planner
LEASE = 3.0
LATE = 1 / 3  # the share of restarts made only after the leases ran out


def plan(run: int) -> str:
    """A planner queueing WORKERS tasks, each writing and committing a file of its own."""
    tasks = []
    for n in range(WORKERS):
        name = f"r{run}-w{n}"
        steps = [{"write": f"{name}.txt", "text": f"{name}\n"}, {"commit": name}, {"done": name}]
        title = f"Write file {name} for the chaos check"
        tasks.append({"create_task": {"phase": 2, "title": title,
                                      "description": scripted(title, *steps)}})  # fmt: skip
    return scripted(f"Plan chaos run {run}.", *tasks, {"done": f"planned run {run}"})


@dataclass
class Chaos:
    swarm: Swarm
    values: dict
    rng: random.Random
    logs: Path
    runs: list[str] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    late_restarts: int = 0
    peak_sessions: int = 0
    peak_active: int = 0

    async def until_done(self) -> None:
        """Lives of the launcher: each armed with the next point until all are used, then one
        that runs the work to its end and is stopped with SIGTERM."""
        points = self.rng.sample(POINTS, len(POINTS))
        life = 0
        while True:
            point = points.pop() if points else None
            proc = await self._spawn(life, point)
            if await self._watch(proc, life):
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(proc.wait(), 60) == 0, self._stderr(life)
                return
            life += 1
            if self.rng.random() < LATE:
                await self._leases_run_out()

    async def _spawn(self, life: int, point: str | None) -> asyncio.subprocess.Process:
        args = ["--settings", json.dumps(self.values, default=str)]
        if point is not None:
            args += ["--point", point, "--kill-log", str(self.logs / "kills.log")]
        with (self.logs / f"launcher-{life}.err").open("w") as err:
            return await asyncio.create_subprocess_exec(
                sys.executable, str(CHAOS), *args, stdout=err, stderr=err
            )

    async def _watch(self, proc: asyncio.subprocess.Process, life: int) -> bool:
        """True when all the work is done; False when the launcher was killed."""
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            self._sample()
            if proc.returncode is not None:
                assert proc.returncode == -signal.SIGKILL, self._stderr(life)
                self.kills[self._last_kill()] += 1
                return False
            if await self._all_done():
                return True
            await asyncio.sleep(0.5)
        raise AssertionError("the work did not end in time:\n" + self._diagnosis())

    def _sample(self) -> None:
        """The cap holds for live sessions and for the tasks the server counts as active."""
        self.peak_sessions = max(self.peak_sessions, len(self.swarm.tmux.panes()))
        with self.swarm.db() as db:
            active = db.execute(
                "SELECT COUNT(*) FROM tasks WHERE status IN ('claimed', 'running', 'validating')"
            ).fetchone()[0]
        self.peak_active = max(self.peak_active, active)

    async def _all_done(self) -> bool:
        """Every task of every run ended, each merge settled, no agent left: read from the
        database, which is cheaper than asking the server each time."""
        with self.swarm.db() as db:
            workers, open_work = db.execute(
                "SELECT SUM(phase = 2), SUM(status NOT IN ('done', 'failed', 'cancelled',"
                " 'duplicate') OR merge_state IN ('queued', 'verifying')) FROM tasks"
            ).fetchone()
            agents = db.execute("SELECT COUNT(*) FROM agents WHERE status = 'running'").fetchone()
        return workers == RUNS * WORKERS and open_work == 0 and agents[0] == 0

    async def _leases_run_out(self) -> None:
        self.late_restarts += 1
        deadline = time.monotonic() + LEASE * 4
        while time.monotonic() < deadline:
            with self.swarm.db() as db:
                live = db.execute(
                    "SELECT COUNT(*) FROM tasks WHERE lease_expires_at >= ?"
                    " AND status IN ('claimed', 'running', 'validating')",
                    (time.time(),),
                ).fetchone()[0]
            if live == 0:
                return
            await asyncio.sleep(0.2)
        raise AssertionError("leases did not run out")

    def _last_kill(self) -> str:
        return (self.logs / "kills.log").read_text().splitlines()[-1]

    def _stderr(self, life: int) -> str:
        return (self.logs / f"launcher-{life}.err").read_text()[-4000:]

    def _diagnosis(self) -> str:
        return "\n".join(self.swarm.diagnosis(run) for run in self.runs)


async def test_a_launcher_killed_anywhere_ends_every_task_once_and_leaves_nothing(
    project, embedder, tmp_path
):
    seed, began = int(os.environ.get("HEPH_CHAOS_SEED", "15")), time.monotonic()
    values = swarm_values(
        project, lease_seconds=LEASE, max_concurrent_agents=CAP, max_attempts=10,
        poll_interval=1.0,
    )  # fmt: skip
    async with running_swarm(load_settings(**values), embedder) as swarm:
        chaos = Chaos(swarm, values, random.Random(seed), tmp_path)
        chaos.runs = [await swarm.start(plan(run)) for run in range(RUNS)]
        await chaos.until_done()
        panes = swarm.tmux.panes()
        with swarm.db() as db:
            tasks = db.execute("SELECT id, run_id, phase, status FROM tasks").fetchall()
            ended = Counter(r[0] for r in db.execute("SELECT task_id FROM events WHERE kind IN"
                                                     " ('task_done', 'task_failed')"))  # fmt: skip
            spans = db.execute("SELECT task_id, started_at, ended_at FROM agents").fetchall()
    merges = Counter(
        line.split(":", 1)[0].removeprefix("Merge task ")
        for run in chaos.runs
        for line in swarm.git("log", f"heph/{run}", "--merges", "--format=%s").splitlines()
    )
    workers = [t for t in tasks if t[2] == 2]
    duplicates = (
        sum(count - 1 for count in ended.values() if count > 1)
        + sum(count - 1 for count in merges.values() if count > 1)
        + _overlapping_agents(spans)
    )
    orphans = _orphans(swarm, chaos.runs, panes)
    print(
        f"\nchaos seed {seed}: kills survived {sum(chaos.kills.values())} {dict(chaos.kills)},"
        f" restarts after the lease ran out {chaos.late_restarts}, tasks {len(tasks)},"
        f" duplicates seen {duplicates}, orphans left {len(orphans)} {orphans},"
        f" peak sessions {chaos.peak_sessions}/{CAP}, peak active tasks {chaos.peak_active}/{CAP},"
        f" {time.monotonic() - began:.0f}s"
    )
    assert len(tasks) == RUNS * (1 + WORKERS)
    assert {t[3] for t in tasks} == {"done"}
    assert all(ended[t[0]] == 1 for t in tasks), ended
    assert all(merges[t[0]] == 1 for t in workers), merges
    assert duplicates == 0 and orphans == []
    assert chaos.peak_sessions <= CAP and chaos.peak_active <= CAP
    assert sum(chaos.kills.values()) >= len(POINTS) // 2
    for run in range(RUNS):
        for n in range(WORKERS):
            name = f"r{run}-w{n}"
            assert swarm.git("show", f"heph/{chaos.runs[run]}:{name}.txt") == name


def _overlapping_agents(spans: list[tuple[str, float, float | None]]) -> int:
    """Agents of one task alive at once: a second agent started before the first ended."""
    by_task: dict[str, list[tuple[float, float]]] = {}
    for task, start, end in spans:
        by_task.setdefault(task, []).append((start, end or float("inf")))
    overlaps = 0
    for lives in by_task.values():
        lives.sort()
        overlaps += sum(1 for a, b in zip(lives, lives[1:], strict=False) if b[0] < a[1])
    return overlaps


def _orphans(swarm: Swarm, runs: list[str], panes: dict) -> list[str]:
    """Sessions, worktrees, task branches and agent folders left once all work is done."""
    left = [f"session {name}" for name in panes]
    listed = swarm.git("worktree", "list", "--porcelain").splitlines()
    root = str(swarm.settings.project)
    left += [f"worktree {w[9:]}" for w in listed if w.startswith("worktree ") and w[9:] != root]
    worktrees = swarm.settings.worktrees_dir
    left += [f"folder {p}" for p in worktrees.iterdir()] if worktrees.exists() else []
    agents = swarm.settings.agents_dir
    left += [f"agent folder {p.name}" for p in agents.iterdir()] if agents.exists() else []
    branches = swarm.git("for-each-ref", "--format=%(refname:short)", "refs/heads").splitlines()
    expected = {"main", *(f"heph/{run}" for run in runs)}
    left += [f"branch {b}" for b in branches if b not in expected]
    return left
