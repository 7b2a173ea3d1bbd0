"""The README's two commands and its troubleshooting table stay true to the program.

Each message the README quotes is produced here by the real check that prints it
(real git, a real bound port, the real `claude` binary, the real embedded Qdrant),
so a reworded error fails this test until the README says the same.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from heph_mcp.memory.vectors import check_reachable, open_qdrant
from heph_mcp.serve import check_port_free
from heph_mcp.settings import load_settings
from launcher.git_repo import open_repo
from launcher.runner import check_agent_cli, check_claude_login
from launcher.sandbox import check_sandbox
from launcher.tmux import require_tmux
from testkit import free_port

README = Path(__file__).parents[1] / "README.md"
NODE_BIN = Path(__file__).parent / "node" / "node_modules" / ".bin"


def quoted_errors() -> dict[str, str]:
    """Problem -> message, from the README's "When something is wrong" table."""
    rows = re.findall(r"^\| (.+?) \| `` (error: .+?) `` \|$", README.read_text(), re.MULTILINE)
    return dict(rows)


def matches(quoted: str, printed: str) -> bool:
    """The README writes /path and port 8000 where the real message has the actual ones."""
    pattern = re.escape(quoted).replace("/path", ".+").replace("8000", r"\d+")
    return re.fullmatch(pattern, printed) is not None


def error_of(check: Callable[[], object]) -> str:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - each check has its own type
        check()
    return f"error: {caught.value}"


def test_the_readme_starts_with_the_up_and_test_commands():
    text = README.read_text()
    up = text.index("<!-- up-command -->")
    test = text.index("<!-- test-command -->")
    assert up < test < text.index("## ")
    assert "heph up" in text[up:test] and "pytest" in text[test : text.index("## ")]


def test_the_readme_quotes_every_start_up_error_as_printed(tmp_path, monkeypatch):
    quoted = quoted_errors()
    empty_repo = tmp_path / "empty"
    subprocess.run(["git", "init", "-q", str(empty_repo)], check=True)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    qdrant = tmp_path / ".hephaestus" / "qdrant"
    held = open_qdrant(qdrant, None, None)  # the running server's hold on the folder
    printed = {
        "not a git repository": error_of(lambda: open_repo(tmp_path)),
        "a repository without commits": error_of(lambda: open_repo(empty_repo)),
        "port in use": error_of(lambda: check_port_free("127.0.0.1", busy.getsockname()[1])),
        "Qdrant folder locked": error_of(lambda: open_qdrant(qdrant, None, None)),
        "Claude Code not logged in": _not_logged_in(tmp_path, monkeypatch),
        "Qdrant server down": _qdrant_down(),
    }
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    printed["tmux missing"] = error_of(require_tmux)
    printed["agent sandbox missing"] = error_of(check_sandbox)
    printed["Claude Code not installed"] = error_of(
        lambda: check_agent_cli(load_settings(tmp_path, agent_cli="claude"))
    )
    busy.close()
    del held
    assert set(printed) == set(quoted)
    for problem, message in printed.items():
        assert matches(quoted[problem], message), (problem, message)


def _not_logged_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The real `claude` with an empty HOME and no API key."""
    for key in [k for k in os.environ if k.startswith("ANTHROPIC_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    return error_of(lambda: check_claude_login(str(NODE_BIN / "claude")))


def _qdrant_down() -> str:
    """The real client against a loopback port nothing listens on."""
    url = f"http://127.0.0.1:{free_port()}"
    client = open_qdrant(None, url, None)
    try:
        return error_of(lambda: asyncio.run(check_reachable(client, url)))
    finally:
        asyncio.run(client.close())
