"""`heph worker --server URL`: a launcher and a Guardian on another host, for one server.

The host keeps its own clone of the project. Before anything is claimed, every
part is checked and a failure stops start-up with the exact fix: the ops
token (a file or HEPH_OPS_TOKEN, never argv), the server and its role, the
repository of record at `<server>/git/`, git, tmux, the agent CLI and the
sandbox.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

from git import Repo

from guardian.runner import run_guardian
from heph_mcp.client import HephClient
from heph_mcp.settings import Settings
from launcher.git_repo import GitError
from launcher.launcher import Observer
from launcher.remote import RemoteRepo, WorkerLauncher, git_url
from launcher.runner import LauncherError, connect
from launcher.runner import preflight as launcher_preflight

log = logging.getLogger("heph.worker")
ENV_TOKEN = "HEPH_OPS_TOKEN"


def ops_token(settings: Settings) -> str:
    """The server's ops token: HEPH_OPS_TOKEN, the file --token-file names, or the clone's
    own .hephaestus/secrets/ops.token (hidden from agents like the whole state folder).

    The variable is dropped from our environment once read: the tmux server this process
    starts, and so every agent in it, would inherit it.
    """
    from_env = os.environ.pop(ENV_TOKEN, None)
    if settings.ops_token is not None and settings.ops_token.get_secret_value().strip():
        return settings.ops_token.get_secret_value().strip()
    if from_env and from_env.strip():
        return from_env.strip()
    default = settings.secrets_dir / "ops.token"
    path = settings.ops_token_file or (default if default.is_file() else None)
    fix = (
        "copy the server host's .hephaestus/secrets/ops.token to the same place in this clone"
        " (mode 0600), or pass --token-file PATH, or set HEPH_OPS_TOKEN"
    )
    if path is None:
        raise LauncherError(f"no ops token: {fix}")
    try:
        token = Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise LauncherError(
            f"cannot read the ops token at {path} ({exc.strerror}): {fix}"
        ) from None
    if not token:
        raise LauncherError(f"{path} is empty: {fix}")
    return token


def check_tools() -> None:
    """git, which the worker's clone needs before anything; tmux is checked by Tmux() in the
    launcher's own preflight, with its fix."""
    if shutil.which("git") is None:
        raise LauncherError(
            "git not found on PATH: install git 2.38 or newer (apt-get install git)"
        )


async def check_server(client: HephClient, url: str) -> None:
    """The server answers, and the token is its ops token."""
    await connect(
        client, url, "check the URL (the server's public_url ends in /mcp), that `heph up` runs"
        " there, and that a host other than loopback can reach it (`heph up --host 0.0.0.0`"
        " behind TLS, see the README)",
    )  # fmt: skip
    me = await client.call("whoami")
    if me.get("role") != "ops":
        await client.__aexit__(None, None, None)
        raise LauncherError(
            f"the token is a {me.get('role')} token; a worker needs the server's ops token"
            " (.hephaestus/secrets/ops.token on the server host)"
        )


def check_repository(repo: RemoteRepo) -> None:
    try:
        repo.remote_tips("heph/none")
    except GitError as exc:
        raise LauncherError(
            f"cannot read the repository of record at {repo.url}: {exc}. The server must be"
            " this version of Hephaestus, and its project a git repository"
        ) from None


async def run_worker(
    settings: Settings,
    stop: asyncio.Event,
    server: str,
    *,
    observer: Observer | None = None,
    guardian: bool = True,
) -> None:
    """Check everything, then run the launcher (and the Guardian) until `stop` is set."""
    token = ops_token(settings)
    check_tools()
    local, tmux = launcher_preflight(settings)
    repo = RemoteRepo(Repo(local.root), server, token)
    client = HephClient(server, token)
    await check_server(client, server)
    try:
        await asyncio.to_thread(check_repository, repo)
        launcher = WorkerLauncher(settings, client, repo, tmux, observer=observer)
        log.info("worker %s ready: %s slots, claiming from %s", settings.worker_id,
                 launcher.slots, server)  # fmt: skip
        helpers = [launcher.run(stop)]
        if guardian:
            helpers.append(run_guardian(settings, stop, url=server, token=token))
        await asyncio.gather(*helpers)
    finally:
        await client.__aexit__(None, None, None)


__all__ = ["git_url", "ops_token", "run_worker"]
