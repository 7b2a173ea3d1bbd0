"""Guardian fixtures: a swarm (server, launcher, scripted agents on real tmux) plus a Guardian."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from swarmkit import Swarm, make_project, running_swarm, swarm_settings

from heph_mcp.memory.embedder import LocalEmbedder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture
async def swarm(project: Path, embedder: LocalEmbedder) -> AsyncIterator[Swarm]:
    async with running_swarm(swarm_settings(project, steer_interval=0), embedder) as running:
        yield running
