"""The tmux adapter on a private tmux server."""

from __future__ import annotations

import subprocess
import sys
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


def test_literal_keys_arrive_as_typed(tmux, tmp_path: Path):
    tmux.start("s2", tmp_path, [sys.executable, "-c", "print('got', repr(input()))"])
    tmux.send_literal("s2", "/mcp__hephaestus__guidance $(x) ;")
    wait_until(lambda: "got" in tmux.capture("s2"))
    assert "got '/mcp__hephaestus__guidance $(x) ;'" in tmux.capture("s2")


def test_an_absent_tmux_server_has_no_panes():
    assert Tmux(f"heph-none-{uuid.uuid4().hex[:8]}").panes() == {}
