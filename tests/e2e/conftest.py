"""End-to-end fixtures: the real `claude` binary as the agent CLI, a scripted model behind it."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from modelkit import ScriptedModel, model_server
from swarmkit import Swarm, make_project, running_swarm, swarm_settings

from heph_mcp.memory.embedder import LocalEmbedder
from testkit import artifacts_dir

NODE_BIN = Path(__file__).parents[1] / "node" / "node_modules" / ".bin"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture
def agents_model(tmp_path, monkeypatch, request) -> Iterator[ScriptedModel]:
    """The model every launched `claude` talks to; tests set `.script` before starting."""
    model = ScriptedModel(lambda body: [])
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
    with model_server(model) as served:
        for key, value in {
            "HOME": str(home),
            "ANTHROPIC_BASE_URL": served.url,
            "ANTHROPIC_API_KEY": "sk-ant-test-0123456789abcdefghijkl",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "ENABLE_TOOL_SEARCH": "false",
            "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}",
        }.items():
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
        save_artifacts(artifacts_dir(request), settings.logs_dir, agents_model)


def save_artifacts(folder: Path, logs: Path, model: ScriptedModel) -> None:
    """Every agent's pane capture and the scripted model's request log."""
    for log in logs.glob("*.log"):
        shutil.copy(log, folder / log.name)
    with (folder / "model-requests.jsonl").open("w") as handle:
        for body in model.requests:
            handle.write(json.dumps(body) + "\n")
