"""The real launcher in a process of its own that dies by SIGKILL (as `kill -9`) at a chosen point.

For the chaos test (test_chaos.py). The launcher, its git, tmux and MCP
adapters are the real ones; the only addition is a trap on one adapter call:
at the `--nth` time the call named by `--point` is made (before or after it,
as POINTS says), the process appends the point's name to `--kill-log` and
sends itself SIGKILL, so nothing of Python's shutdown runs. Without `--point`
it runs until SIGTERM, like `heph launcher`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from heph_mcp.client import HephClient
from heph_mcp.identity import local_token
from heph_mcp.settings import load_settings
from launcher.git_repo import open_repo
from launcher.launcher import Launcher
from launcher.tmux import Tmux

# point: (adapter, call, when); "claim" counts only claims that got a task.
POINTS = {
    "claim": ("client", "claim_task", "after"),
    "register": ("client", "register_agent", "after"),
    "start": ("tmux", "start", "after"),
    "brief": ("client", "record_lineage", "before"),
    "merge": ("repo", "advance", "after"),
    "merge_report": ("client", "record_merge", "before"),
    "cleanup": ("tmux", "kill", "after"),
    "cleanup_worktree": ("repo", "remove_worktree", "after"),
    "cleanup_report": ("client", "report_agent_exit", "before"),
    "cleanup_branch": ("repo", "delete_branch", "before"),
}


def trap(adapters: dict[str, Any], point: str, nth: int, kill_log: Path) -> None:
    """Wrap the adapter's `call` so that the nth matching call kills this process."""
    adapter, name, when = POINTS[point]
    target = adapters[adapter]
    original = target.call
    seen = 0

    def maybe_die() -> None:
        nonlocal seen
        seen += 1
        if seen == nth:
            with kill_log.open("a") as log:
                log.write(point + "\n")
            os.kill(os.getpid(), signal.SIGKILL)

    async def call(method: str, *args: Any, **kwargs: Any) -> Any:
        if method == name and when == "before":
            maybe_die()
        result = await original(method, *args, **kwargs)
        if method == name and when == "after" and (point != "claim" or result.get("task")):
            maybe_die()
        return result

    target.call = call


async def main(args: argparse.Namespace) -> None:
    settings = load_settings(**json.loads(args.settings))
    client = HephClient(settings.url, local_token(settings.secrets_dir, "ops"))
    repo, tmux = open_repo(settings.project), Tmux(settings.tmux_socket)
    if args.point:
        adapters = {"client": client, "repo": repo, "tmux": tmux}
        trap(adapters, args.point, args.nth, Path(args.kill_log))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with client:
        await Launcher(settings, client, repo, tmux).run(stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", required=True, help="load_settings arguments, as JSON")
    parser.add_argument("--point", choices=sorted(POINTS))
    parser.add_argument("--nth", type=int, default=1)
    parser.add_argument("--kill-log", default=os.devnull)
    asyncio.run(main(parser.parse_args()))
