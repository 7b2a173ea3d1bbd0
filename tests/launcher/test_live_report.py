"""The launcher reports its agents' pane tails and branch diff stats to the server while they run,
and the diff stat once more when they end: a real scripted agent in tmux on a real repository."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from swarmkit import running_swarm, scripted, swarm_settings

from heph_mcp.client import HephClient, all_tasks_finished


async def _until(read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], timeout=30.0):
    """Poll the server within a bounded wait; return the first answer that passes."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await read()
        if check(answer):
            return answer
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.1)


async def test_a_running_agents_pane_and_diff_stat_reach_the_server_and_the_stat_outlives_it(
    project, embedder
):
    settings = swarm_settings(project, pane_tail_interval=0.2, diffstat_interval=0.3)
    async with running_swarm(settings, embedder) as swarm:
        first, second = swarm.exchange / "first-seen", swarm.exchange / "finish"
        goal = scripted(
            "Write the parser and show progress.",
            {"write": "parser.py", "text": "def parse():\n    return 1\n"},
            {"commit": "parser"},
            {"run": ["echo", "tail-marker-one"]},
            {"wait_file": str(first)},
            {"run": ["echo", "tail-marker-two"]},
            {"wait_file": str(second)},
            {"done": "parser written"},
        )
        await swarm.start_launcher()
        run = await swarm.start(goal)
        user: HephClient = swarm.user
        status = await swarm.wait(run, lambda s: bool(s["agents"]))
        agent, task = status["agents"][0]["id"], status["agents"][0]["task_id"]

        async def output() -> dict:
            return await user.call("get_agent_output", agent_id=agent)

        def shows(marker: str) -> Callable[[dict], bool]:
            return lambda o: o["tail"] is not None and marker in o["tail"]["text"]

        one = await _until(output, shows("tail-marker-one"))
        assert "\x1b" not in one["tail"]["text"]
        first.write_text("go")
        await _until(output, shows("tail-marker-two"))  # the tail follows the pane

        async def detail() -> dict:
            return await user.call("get_task_detail", task_id=task)

        running = await _until(detail, lambda d: d["diffstat"] is not None)
        assert running["diffstat"]["base"] == f"heph/{run}"
        assert "parser.py" in running["diffstat"]["text"] and running["diffstat"]["files"] == 1
        assert running["diffstat"]["insertions"] == 2

        second.write_text("go")
        await swarm.wait(run, all_tasks_finished)
        await swarm.wait(run, lambda s: not s["agents"])
        ended = await detail()
        assert ended["diffstat"]["files"] == 1 and ended["task"]["status"] == "done"
        assert (await output())["tail"] is None  # only running agents have a live tail
