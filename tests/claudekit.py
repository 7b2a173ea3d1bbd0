"""Driving the user's own `claude` CLI the way the README tells a user to."""

from __future__ import annotations

import shlex
import subprocess
import sys


def claude(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["claude", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def add_hephaestus(project, server) -> str:
    """Run exactly the `claude mcp add` line that `heph mcp-config` prints."""
    line = subprocess.run(
        [sys.executable, "-m", "heph_mcp.cli", "mcp-config", "--project", str(project),
         "--port", str(server.port)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    argv = shlex.split(line)
    assert argv[:5] == ["claude", "mcp", "add", "--transport", "http"]
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return line
