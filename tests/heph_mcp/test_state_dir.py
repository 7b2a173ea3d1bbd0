"""The state folder holds tokens, the database and logs: never in git, never readable by others."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from testkit import ServerProcess


def _repo(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "README").write_text("hello\n")
    return path


def _staged_after_add_all(repo: Path) -> list[str]:
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    listed = subprocess.run(
        ["git", "-C", str(repo), "diff", "--cached", "--name-only"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return listed.stdout.split()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_heph_serve_on_its_own_keeps_the_state_folder_out_of_git_and_private(tmp_path):
    repo = _repo(tmp_path / "project")
    server = ServerProcess(repo).start()
    try:
        assert (repo / ".hephaestus" / "heph.db").exists()
    finally:
        server.stop()
    (repo / ".hephaestus" / "logs").mkdir(exist_ok=True)
    (repo / ".hephaestus" / "logs" / "x.log").write_text("agent output\n")
    staged = _staged_after_add_all(repo)
    assert "README" in staged and not [p for p in staged if p.startswith(".hephaestus")]
    assert _mode(repo / ".hephaestus") == 0o700


@pytest.mark.parametrize("command", [["mcp-config"], ["board-link"]])
def test_commands_that_only_make_the_tokens_keep_the_state_folder_out_of_git(tmp_path, command):
    repo = _repo(tmp_path / "project")
    subprocess.run(
        [sys.executable, "-m", "heph_mcp", *command, "--project", str(repo)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert (repo / ".hephaestus" / "secrets" / "user.token").exists()
    assert _staged_after_add_all(repo) == ["README"]
    assert _mode(repo / ".hephaestus") == 0o700


def test_an_existing_state_folder_open_to_others_is_closed(tmp_path):
    from heph_mcp.state_dir import prepare_state_dir

    state = tmp_path / ".hephaestus"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    prepare_state_dir(state)
    assert _mode(state) == 0o700 and (state / ".gitignore").read_text() == "*\n"
