"""A worker's ops token: where it comes from, and that agents never see it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from heph_mcp.settings import load_settings
from launcher.runner import LauncherError
from launcher.sandbox import plan_for
from launcher.sessions import AgentSession
from launcher.worker import ops_token


def test_the_token_from_the_environment_is_dropped_before_any_agent_could_inherit_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HEPH_OPS_TOKEN", "ops-secret")
    settings = load_settings(project=tmp_path)
    assert ops_token(settings) == "ops-secret"
    assert "HEPH_OPS_TOKEN" not in os.environ


def test_the_clones_own_secrets_folder_holds_the_token_by_default(tmp_path: Path):
    settings = load_settings(project=tmp_path)
    with pytest.raises(LauncherError, match="no ops token: copy the server host's"):
        ops_token(settings)
    settings.secrets_dir.mkdir(parents=True)
    (settings.secrets_dir / "ops.token").write_text("from-the-file\n")
    assert ops_token(settings) == "from-the-file"


def test_a_token_file_outside_the_state_folder_is_hidden_from_agents(tmp_path: Path):
    token = tmp_path / "ops.token"
    token.write_text("secret")
    settings = load_settings(project=tmp_path / "clone", ops_token_file=token)
    session = AgentSession(
        "a1", "t1", "r1", "title", "heph-r1-t1", tmp_path / "wt", tmp_path / "agent"
    )
    plan = plan_for(settings, session, "claude", tmp_path / ".git", None)
    assert token.resolve() in plan.hidden
