"""What unattended agents pay: an approval the policy decides, and the sandbox per Bash call.

    .venv/bin/python bench/approvals.py [--calls 20]

Real `claude` agents (the scripted Messages API on loopback stands in for the
model), real server, launcher, tmux and sandbox. One gap is timed throughout:
from the model's answer holding a Bash call to the next request that carries
its result, so it holds Claude Code's own work, the command, and whatever
stood between them.

1. Approval to resume, policy deciding: a Read outside the worktree
   (/etc/os-release) goes through the PermissionRequest hook to the server,
   whose policy allows it; baseline in the same agent, alternated: a Read of
   the worktree's README.md, which needs no approval. Also the hook alone:
   spawn to printed decision, against the same server.
2. The sandbox per Bash call: `echo 1` in a sandboxed agent (alternating with
   the reads above) against the same command in an agent with --no-sandbox,
   in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from claudekit import claude_environment  # noqa: E402
from modelkit import (  # noqa: E402
    ScriptedModel,
    in_workdir,
    model_server,
    task_title,
    text,
    tool_use,
    turns,
)
from swarmkit import make_project, running_swarm, scripted, swarm_settings  # noqa: E402

from claude_config.templates import HOOK_SCRIPT  # noqa: E402
from heph_mcp.memory.embedder import LocalEmbedder  # noqa: E402

console = Console()
CALLS = {
    "read, no approval": ("Read", {"file_path": "{cwd}/README.md"}),
    "read, approved": ("Read", {"file_path": "/etc/os-release"}),
    "bash, sandboxed": ("Bash", {"command": "echo 1", "description": "echo"}),
    "bash, unsandboxed": ("Bash", {"command": "echo 1", "description": "echo"}),
}


class Timer:
    """Per agent: when the model handed out its last tool call, and each gap until the next
    request, by the kind of call."""

    def __init__(self, plans: dict[str, list[str]]):
        self.plans = plans
        self.sent: dict[str, tuple[float, str]] = {}
        self.gaps: dict[str, list[float]] = {}

    def script(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        now, title = time.perf_counter(), task_title(body)
        if title in self.sent:
            at, label = self.sent.pop(title)
            self.gaps.setdefault(label, []).append(now - at)
        plan, step = self.plans.get(title, []), turns(body)
        if step >= len(plan):
            return [text("Done.")]
        label = plan[step]
        if label == "done":
            done = {"status": "done", "summary": "timed"}
            return [tool_use("mcp__hephaestus__update_task_status", done)]
        self.sent[title] = (time.perf_counter(), label)
        return [in_workdir(tool_use(*CALLS[label]), body)]


def plans(calls: int) -> dict[str, list[str]]:
    kinds = ("read, no approval", "read, approved", "bash, sandboxed")
    return {
        "Sandboxed agent": [k for _ in range(calls) for k in kinds] + ["done"],
        "Unsandboxed agent": ["bash, unsandboxed"] * calls + ["done"],
    }


async def run_agent(root: Path, embedder, timer: Timer, title: str, sandbox: bool) -> None:
    (root / title.split()[0]).mkdir()
    project = make_project(root / title.split()[0])
    settings = swarm_settings(project, agent_cli="claude", agent_command=None,
                              agent_sandbox=sandbox, start_timeout=120)  # fmt: skip
    async with running_swarm(settings, embedder) as swarm:
        run = await swarm.user.call("start_workflow", workflow="scripted",
                                    goal=scripted(title))  # fmt: skip
        await rename(swarm, run["task_id"], title)
        await swarm.start_launcher()
        await swarm.wait(run["run_id"], done_once, timeout=600)
        await swarm.stop_launcher()
        if sandbox:
            with swarm.db() as db:
                asked = db.execute("SELECT COUNT(*) FROM approvals WHERE tool = 'Read'").fetchone()
            console.print(f"approval requests the policy decided: {asked[0]}")
            timer.gaps["hook alone"] = await hook_alone(swarm)


async def rename(swarm, task_id: str, title: str) -> None:
    """The first task's title is the workflow's; the script keys on ours."""
    with swarm.db() as db:
        db.execute("UPDATE tasks SET title = ? WHERE id = ?", (title, task_id))


def done_once(status: dict[str, Any]) -> bool:
    return any(p["counts"].get("done") for p in status["phases"])


async def hook_alone(swarm, calls: int = 20) -> list[float]:
    """The hook as Claude Code runs it, against the same server, for a live agent's token."""
    probe = await swarm.user.call("start_workflow", workflow="scripted", goal="hook probe")
    async with swarm.ops() as ops:
        await ops.call("claim_task", worker="bench", slots=1)
        agent = await ops.call("register_agent", task_id=probe["task_id"], worker="bench",
                               session_name="bench-hook", cli="claude")  # fmt: skip
    config = Path(tempfile.mkdtemp()) / "hook.json"
    config.write_text(json.dumps({"url": swarm.settings.url.removesuffix("/mcp"),
                                  "token": agent["token"], "sandboxed": True}))  # fmt: skip
    event = json.dumps({"tool_name": "Read", "tool_input": {"file_path": "/etc/os-release"}})
    gaps = []
    for _ in range(calls):
        start = time.perf_counter()
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-I", str(HOOK_SCRIPT), str(config)],
            input=event, capture_output=True, text=True, check=True,
        )  # fmt: skip
        gaps.append(time.perf_counter() - start)
        assert '"allow"' in done.stdout, done.stdout
    return gaps


def p50(values: list[float]) -> float:
    return statistics.median(values) * 1000


def report(gaps: dict[str, list[float]]) -> None:
    table = Table(title="Tool call to next model request (ms)")
    for column in ("kind", "n", "p50", "p90"):
        table.add_column(column, justify="right")
    for label, values in gaps.items():
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000
        table.add_row(label, str(len(values)), f"{p50(values):.0f}", f"{p90:.0f}")
    console.print(table)
    approval = p50(gaps["read, approved"]) - p50(gaps["read, no approval"])
    console.print(f"approval decided by policy, request to resume: {approval:.0f} ms beyond a"
                  f" read needing none (hook alone: {p50(gaps['hook alone']):.0f} ms p50;"
                  " target < 1000 ms)")  # fmt: skip
    sandbox = p50(gaps["bash, sandboxed"]) - p50(gaps["bash, unsandboxed"])
    ratio = p50(gaps["bash, sandboxed"]) / p50(gaps["bash, unsandboxed"])
    console.print(f"sandbox cost per Bash call: {sandbox:.0f} ms p50 ({ratio:.2f}x unsandboxed)")


async def main(calls: int) -> None:
    timer = Timer(plans(calls))
    model = ScriptedModel(timer.script)
    embedder = LocalEmbedder()
    with tempfile.TemporaryDirectory() as folder, model_server(model) as served:
        os.environ.update(claude_environment(Path(folder) / "home", served.url))
        for title, sandbox in (("Sandboxed agent", True), ("Unsandboxed agent", False)):
            console.print(f"[bold]{title}[/]: {len(timer.plans[title]) - 1} tool calls")
            await run_agent(Path(folder), embedder, timer, title, sandbox)
    embedder.close()
    report(timer.gaps)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="calls of each kind")
    asyncio.run(main(parser.parse_args().calls))
