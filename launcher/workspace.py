"""The files one agent is handed: its brief, and apart from it, its private configuration.

Nothing lives in the worktree, so nothing of ours lands in the agent's commits.
The brief (`.hephaestus/agents/<session>/`) is the one file of ours the agent
reads. Its MCP config, settings and hook config carry its token and live in a
private folder under the temp dir (0700, files 0600), where no path from a
worktree leads and the sandbox hides it from every agent's commands.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from pathlib import Path
from typing import Any

from claude_config.templates import (
    AgentLaunch,
    CliTemplate,
    claude_settings,
    hook_config,
    mcp_config,
)
from claude_config.trust import ConfigLockTimeout, forget_folders, trust_folders

log = logging.getLogger(__name__)


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def private_folder(path: Path, levels: int = 1) -> None:
    """Create `path` and its `levels - 1` parents as folders only we can enter.

    They sit in the shared temp dir, so each must really be ours: a folder made
    beforehand by someone else, or a link, is refused rather than trusted.
    """
    for folder in [*reversed(path.parents[: levels - 1]), path]:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise OSError(f"{folder} is not a folder of this user's: remove it and retry")
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(folder, 0o700)


def prepare(template: CliTemplate, launch: AgentLaunch, brief: str) -> dict[str, str]:
    """Write the brief and the private files; returns env the CLI needs to find them."""
    launch.agent_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(launch.agent_dir, 0o700)
    _write(launch.brief, brief)
    private_folder(launch.private)
    env: dict[str, str] = {}
    config: dict[str, Any] | None = mcp_config(template, launch)
    if config is not None:
        _write(launch.mcp_config, json.dumps(config, indent=2))
        if template.config_env:
            env[template.config_env] = str(launch.mcp_config)
    if template.token_env:
        env[template.token_env] = launch.token
    _write(launch.settings, json.dumps(claude_settings(launch), indent=2))
    _write(launch.hook_config, json.dumps(hook_config(launch)))
    if launch.confinement is not None and launch.confinement.scratch is not None:
        launch.confinement.scratch.mkdir(mode=0o700, exist_ok=True)
        env["TMPDIR"] = str(launch.confinement.scratch)
    if template.trust == "claude":
        # Both folders the CLI opens: its worktree, and (--add-dir) the one with the brief.
        trust_folders([launch.worktree, launch.agent_dir])
    return env


def remove(agent_dir: Path, private_dir: Path, worktree: Path) -> None:
    """Delete the agent's files (the token with them) and its trust entry."""
    shutil.rmtree(agent_dir, ignore_errors=True)
    shutil.rmtree(private_dir, ignore_errors=True)
    try:
        forget_folders([worktree, agent_dir])
    except ConfigLockTimeout as exc:  # a leftover trust entry is harmless; say so and go on
        log.warning("left trust entries for %s in place: %s", worktree.name, exc)
