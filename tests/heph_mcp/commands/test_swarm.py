"""LocalSwarm's checks come before anything starts (its whole run is in tests/examples)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from swarmkit import make_project

from heph_mcp.commands.swarm import LocalSwarm
from heph_mcp.settings import load_settings
from launcher.runner import LauncherError
from testkit import free_port


def test_a_missing_agent_cli_stops_the_start_with_its_fix_before_the_server_binds(tmp_path: Path):
    port = free_port()
    settings = load_settings(
        project=make_project(tmp_path), port=port, agent_cli="custom",
        agent_command="no-such-agent-cli --brief {brief}",
    )  # fmt: skip
    swarm = LocalSwarm(settings)
    with pytest.raises(LauncherError, match="agent CLI 'no-such-agent-cli' not found on PATH"):
        swarm.start()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert swarm.shutdown() == []  # nothing started, nothing to stop


def test_using_a_swarm_before_it_starts_says_how_to_start_it(tmp_path: Path):
    swarm = LocalSwarm(load_settings(project=tmp_path, port=free_port()))
    with pytest.raises(RuntimeError, match=r"call start\(\) or use `with`"):
        swarm.start_workflow("bug_fix", "goal")
