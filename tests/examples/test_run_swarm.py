"""examples/run_swarm.py, run as a user would run it, with scripted agents (the test double
for the model) as its agent CLI: the whole swarm starts in the script's process, the run
ends with a validated result, the Guardian steers an agent that idles without reporting,
and shutdown(graceful=True) leaves no agent session and no server behind."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarmkit import AGENT, git, make_project, scripted

from testkit import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "run_swarm.py"
CHECK = ["grep", "-q", "fixed", "fix.txt"]


def goal() -> str:
    check = scripted(
        "Check fix.txt on the run's branch.",
        {"wait_parent_merged": True},
        {"submit_result": scripted("fix.txt says fixed", {"review_command": CHECK})},
        {"done": "checked; result submitted"},
    )
    fix = scripted(
        "Write the fix.",
        {"write": "fix.txt", "text": "fixed\n"},
        {"commit": "the fix"},
        {"idle_prompt": True},  # idle without reporting until the Guardian says so
        {"create_task": {"phase": 3, "title": "Check the fix", "description": check}},
        {"done": "fixed, reported after the Guardian's reminder"},
    )
    return scripted(
        "The greeting is broken",
        {"create_task": {"phase": 2, "title": "Write the fix", "description": fix}},
        {"done": "cause found; fix task created"},
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture
def env(project: Path) -> Iterator[dict[str, str]]:
    socket_name = f"heph-example-{uuid.uuid4().hex[:8]}"
    values = {
        "HEPH_PORT": str(free_port()),
        "HEPH_AGENT_CLI": "custom",
        "HEPH_AGENT_COMMAND": f"{sys.executable} {AGENT} --brief {{brief}} --mcp-config"
        " {mcp_config}",
        "HEPH_TMUX_SOCKET": socket_name,
        "HEPH_WATCH_INTERVAL": "0.2",
        "HEPH_START_TIMEOUT": "30",
        "HEPH_TASK_DUPLICATE_THRESHOLD": "0.995",
        "HEPH_GUARDIAN_JUDGE": "heuristic",
        "HEPH_GUARDIAN_INTERVAL": "1",
    }
    yield {**os.environ, **values}
    subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True, check=False)


def test_the_runner_script_starts_the_swarm_runs_to_a_result_and_shuts_down(project, env):
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(project), goal(), "--timeout", "150"],
        capture_output=True, text=True, env=env, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run = done.stdout.split()[1]
    assert f"run {run} completed" in done.stdout
    assert "[validated]" in done.stdout and "all agents stopped" in done.stdout
    sessions = subprocess.run(
        ["tmux", "-L", env["HEPH_TMUX_SOCKET"], "list-sessions"], capture_output=True, text=True
    )
    assert sessions.stdout == ""  # no agent session outlived the graceful shutdown
    assert git(project, "show", f"heph/{run}:fix.txt") == "fixed"
    with sqlite3.connect(project / ".hephaestus" / "heph.db") as db:
        steered = db.execute(
            "SELECT t.title, g.delivered_via FROM guidance g JOIN tasks t ON t.id = g.task_id"
        ).fetchall()
    assert ("Write the fix", "prompt") in steered  # the in-process Guardian typed its reminder
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(env["HEPH_PORT"])), timeout=2)
