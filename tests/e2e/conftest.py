"""End-to-end fixtures: the real `claude` binary as the agent CLI, a scripted model behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from claudekit import claude_environment
from modelkit import ScriptedModel, model_server
from swarmkit import Swarm, make_project, running_swarm, swarm_settings

from heph_mcp.memory.embedder import LocalEmbedder
from testkit import artifacts_dir, save_artifacts

NODE_BIN = Path(__file__).parents[1] / "node" / "node_modules" / ".bin"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture
def agents_model(tmp_path, monkeypatch, request) -> Iterator[ScriptedModel]:
    """The model every launched `claude` talks to; tests set `.script` before starting."""
    model = ScriptedModel(lambda body: [])
    with model_server(model) as served:
        for key, value in claude_environment(tmp_path / "home", served.url).items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
        yield served


@pytest.fixture
async def claude_swarm(
    project, embedder: LocalEmbedder, agents_model, request
) -> AsyncIterator[Swarm]:
    settings = swarm_settings(project, agent_cli="claude", agent_command=None, start_timeout=60)
    try:
        async with running_swarm(settings, embedder) as running:
            yield running
            for name in running.tmux.panes():  # sessions still open at the end
                (settings.logs_dir / f"{name}.open.log").parent.mkdir(exist_ok=True)
                (settings.logs_dir / f"{name}.open.log").write_text(
                    running.tmux.capture(name, 2000)
                )
    finally:
        save_artifacts(artifacts_dir(request), settings.logs_dir, agents_model.requests)
