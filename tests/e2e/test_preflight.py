"""`heph up` refuses to start agents that could never work, and says how to fix it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NODE_BIN = Path(__file__).parents[1] / "node" / "node_modules" / ".bin"


def heph_up(project: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return subprocess.run(
        [sys.executable, "-m", "heph_mcp", "up", "--project", str(project), "--port", "0"],
        capture_output=True, text=True, timeout=180,
        env={**clean, "HOME": str(home), "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}",
             **env},
    )  # fmt: skip


def test_heph_up_with_a_claude_that_is_not_logged_in_says_how_to_log_in(project, tmp_path):
    done = heph_up(project, tmp_path)
    assert done.returncode == 1
    assert "Claude Code is not logged in: run `claude` once and log in" in done.stderr
