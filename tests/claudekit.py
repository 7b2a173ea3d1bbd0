"""Driving the user's own `claude` CLI the way the README tells a user to."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

NODE_BIN = Path(__file__).parent / "node" / "node_modules" / ".bin"


def claude(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["claude", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def add_hephaestus(project, server) -> str:
    """Run exactly the `claude mcp add` line that `heph mcp-config` prints."""
    line = subprocess.run(
        [sys.executable, "-m", "heph_mcp", "mcp-config", "--project", str(project),
         "--port", str(server.port)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    argv = shlex.split(line)
    assert argv[:5] == ["claude", "mcp", "add", "--transport", "http"]
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return line


def claude_environment(home: Path, model_url: str) -> dict[str, str]:
    """What a launched `claude` needs to run offline against the scripted model: a HOME
    that has finished onboarding, the model's URL, a test key, no other traffic."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
    return {
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": model_url,
        "ANTHROPIC_API_KEY": "sk-ant-test-0123456789abcdefghijkl",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "ENABLE_TOOL_SEARCH": "false",
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}",
    }
