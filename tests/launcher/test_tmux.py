"""The tmux adapter on a private tmux server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.tmux import Tmux


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    socket = f"heph-tmux-{uuid.uuid4().hex[:8]}"
    yield Tmux(socket)
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_program_runs_from_an_argument_list_with_no_shell_in_between(tmux, tmp_path):
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); `touch {marker}` ' \" ends with;"
    code = (
        "import sys, os; print(repr(sys.argv[1]), os.getcwd(), os.environ['HEPH_X']); sys.exit(3)"
    )
    tmux.start("s1", tmp_path, [sys.executable, "-c", code, hostile], {"HEPH_X": "y z"})

    # The pane stays after its program exits (its status follows once tmux reaps it).
    wait_until(lambda: tmux.panes()["s1"].dead)
    assert tmux.panes()["s1"].exit_status in (None, 3)
    assert f"{hostile!r} {tmp_path} y z" in tmux.capture("s1")
    assert not marker.exists()


def test_killing_a_session_never_touches_one_whose_name_merely_starts_the_same(tmux, tmp_path):
    for name in ("heph-r1-t1", "heph-r1-t10"):
        tmux.start(name, tmp_path, ["sleep", "60"])
    assert tmux.kill("heph-r1-t1") is True
    assert set(tmux.panes()) == {"heph-r1-t10"}
    assert tmux.kill("heph-r1-t1") is False


def test_a_kill_returns_once_the_program_has_finished_what_it_writes_on_hangup(tmux, tmp_path):
    """Claude Code writes its transcript's last lines as it exits; the launcher reads the
    bill (and removes the worktree) right after the kill, so the kill waits for the exit."""
    written, ready = tmp_path / "last-words", tmp_path / "ready"
    code = (
        "import signal, sys, time, pathlib\n"
        "def bye(*_):\n"
        "    time.sleep(0.5); pathlib.Path(sys.argv[1]).write_text('flushed'); sys.exit(0)\n"
        "signal.signal(signal.SIGHUP, bye)\n"
        "pathlib.Path(sys.argv[2]).touch()\n"
        "time.sleep(60)\n"
    )
    tmux.start("s3", tmp_path, [sys.executable, "-c", code, str(written), str(ready)])
    wait_until(ready.exists)
    assert tmux.kill("s3") is True
    assert written.read_text() == "flushed"


def test_literal_keys_arrive_as_typed(tmux, tmp_path: Path):
    tmux.start("s2", tmp_path, [sys.executable, "-c", "print('got', repr(input()))"])
    tmux.send_literal("s2", "/mcp__hephaestus__guidance $(x) ;")
    wait_until(lambda: "got" in tmux.capture("s2"))
    assert "got '/mcp__hephaestus__guidance $(x) ;'" in tmux.capture("s2")


def test_an_absent_tmux_server_has_no_panes():
    assert Tmux(f"heph-none-{uuid.uuid4().hex[:8]}").panes() == {}


@pytest.mark.parametrize("folder", ["proj#S", "proj#(touch {marker})", "p#{{session_name}}##"])
def test_tmux_formats_in_the_start_folder_are_never_expanded(tmux, tmp_path, folder):
    """A project path holding `#S` must start the agent in that very folder, and `#(cmd)`
    must run nothing."""
    marker = tmp_path / "pwned"
    cwd = tmp_path / folder.format(marker=marker)
    cwd.mkdir(parents=True)
    tmux.start("s3", cwd, [sys.executable, "-c", "import os; print('cwd=' + os.getcwd())"])
    wait_until(lambda: "cwd=" in tmux.capture("s3"))
    assert f"cwd={cwd}" in tmux.capture("s3")
    assert not marker.exists()


def test_environment_values_never_appear_on_a_command_line(tmux, tmp_path, monkeypatch):
    """`ps` shows every process's arguments to every local user: a token given to the agent
    must reach its environment without passing through tmux's command line."""
    real = shutil.which("tmux")
    log = tmp_path / "tmux-argv.log"
    shim = tmp_path / "bin" / "tmux"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    secret = "heph_agent_s3cr3t-" + uuid.uuid4().hex
    code = "import os; print('token=' + os.environ['HEPH_AGENT_TOKEN'])"
    tmux.start("s4", tmp_path, [sys.executable, "-c", code], {"HEPH_AGENT_TOKEN": secret})
    wait_until(lambda: "token=" in tmux.capture("s4"))
    assert f"token={secret}" in tmux.capture("s4")
    assert "new-session" in log.read_text()  # the shim really saw tmux's command lines
    assert secret not in log.read_text()
    assert not list(Path(tempfile.gettempdir()).glob(f"*{secret}*"))
