"""The files one agent is handed, in its own folder under `.hephaestus/agents/`.

They live outside the worktree so nothing of ours lands in the agent's
commits, and the folder is private (0700; the MCP config with the token 0600).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from claude_config.templates import AgentLaunch, CliTemplate, claude_settings, mcp_config
from claude_config.trust import ConfigLockTimeout, forget_folders, trust_folders

log = logging.getLogger(__name__)


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def prepare(template: CliTemplate, launch: AgentLaunch, brief: str) -> dict[str, str]:
    """Write the brief, MCP config and settings; returns env the CLI needs to find them."""
    launch.agent_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(launch.agent_dir, 0o700)
    _write(launch.brief, brief)
    env: dict[str, str] = {}
    config: dict[str, Any] | None = mcp_config(template, launch)
    if config is not None:
        _write(launch.mcp_config, json.dumps(config, indent=2))
        if template.config_env:
            env[template.config_env] = str(launch.mcp_config)
    if template.token_env:
        env[template.token_env] = launch.token
    _write(
        launch.settings,
        json.dumps(claude_settings(launch.allowed_tools, launch.read_only), indent=2),
    )
    if template.trust == "claude":
        # Both folders the CLI opens: its worktree, and (--add-dir) this one with the brief.
        trust_folders([launch.worktree, launch.agent_dir])
    return env


def remove(agent_dir: Path, worktree: Path) -> None:
    """Delete the agent's files (the token with them) and its trust entry."""
    shutil.rmtree(agent_dir, ignore_errors=True)
    try:
        forget_folders([worktree, agent_dir])
    except ConfigLockTimeout as exc:  # a leftover trust entry is harmless; say so and go on
        log.warning("left trust entries for %s in place: %s", worktree.name, exc)
