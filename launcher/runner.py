"""Start a launcher for a project: check what it needs, connect as ops, run until stopped."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

from claude_config.templates import cli_template
from heph_mcp.client import HephClient
from heph_mcp.identity import local_token
from heph_mcp.serve import running_url
from heph_mcp.settings import Settings
from heph_mcp.state_dir import prepare_state_dir
from launcher.git_repo import GitRepo, open_repo
from launcher.launcher import Launcher, Observer
from launcher.sandbox import SandboxError, check_sandbox
from launcher.tmux import Tmux


class LauncherError(RuntimeError):
    """A start-up failure with its cause and fix in the message."""


INSTALL_HINTS = {
    "claude": "npm install -g @anthropic-ai/claude-code, then run `claude` once to log in",
    "codex": "npm install -g @openai/codex",
    "gemini": "npm install -g @google/gemini-cli",
    "opencode": "npm install -g opencode-ai",
}


def check_agent_cli(settings: Settings) -> None:
    """The default agent CLI must exist, or every task would fail one attempt at a time."""
    try:
        program = cli_template(settings.agent_cli, settings.agent_command).argv[0]
    except ValueError as exc:
        raise LauncherError(str(exc)) from None
    if shutil.which(program) is None:
        hint = INSTALL_HINTS.get(program, "install it or fix --agent-command")
        raise LauncherError(
            f"agent CLI {program!r} not found on PATH: {hint} (or choose another with --agent-cli)"
        )
    check_claude_login(program)


def check_claude_login(program: str) -> None:
    """A Claude Code that is not logged in sits at its login screen: every agent would
    fail its start timeout. `claude auth status` says so at once (API keys count)."""
    if Path(program).name != "claude":
        return
    try:
        done = subprocess.run(
            [program, "auth", "status"], capture_output=True, text=True, timeout=60
        )
        status = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return  # an older CLI without `auth status`: the start timeout will tell
    if status.get("loggedIn") is False:
        raise LauncherError(
            "Claude Code is not logged in: run `claude` once and log in (or `claude auth"
            " login`), or set ANTHROPIC_API_KEY for the agents"
        )


def preflight(settings: Settings) -> tuple[GitRepo, Tmux]:
    """tmux, the agent CLI, the sandbox, a git repository with a commit: fail fast with the
    fix."""
    repo = open_repo(settings.project)
    tmux = Tmux(settings.tmux_socket)
    check_agent_cli(settings)
    if settings.agent_sandbox:
        try:
            check_sandbox()
        except SandboxError as exc:
            raise LauncherError(str(exc)) from None
    # Worktrees live under .hephaestus/: keep them out of the user's `git status`.
    prepare_state_dir(settings.state_dir)
    return repo, tmux


async def connect(client: HephClient, url: str, fix: str) -> None:
    """Open the client, or stop with why the server cannot be reached and `fix`."""
    try:
        await client.__aenter__()
    except Exception as exc:  # noqa: BLE001 - top-level: any connect failure gets the same fix
        raise LauncherError(f"cannot reach the Hephaestus server at {url} ({exc}): {fix}") from None


async def run_launcher(
    settings: Settings,
    stop: asyncio.Event,
    *,
    url: str | None = None,
    observer: Observer | None = None,
) -> None:
    repo, tmux = preflight(settings)
    url = url or running_url(settings) or settings.url
    client = HephClient(url, local_token(settings.secrets_dir, "ops"))
    await connect(client, url, "start it with `heph serve` or `heph up`, or pass --server URL")
    try:
        await Launcher(settings, client, repo, tmux, observer=observer).run(stop)
    finally:
        await client.__aexit__(None, None, None)
