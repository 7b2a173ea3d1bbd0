"""Mark an agent's worktree as trusted in Claude Code's own config, and forget it after.

Claude Code asks "do you trust this folder?" on first start in a directory,
which would block a launched agent forever. Accepting that dialog is what
the user would do; we record exactly that one flag for the worktree (and
remove it when the worktree goes), writing the file atomically.

Running Claude Code sessions rewrite that same file (read, change, write)
under a lock directory `<file>.lock` taken the proper-lockfile way. A write
of ours between their read and their write would be lost, and the next agent
would sit at the trust dialog; so we take the same lock for our own update.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def claude_json_path() -> Path:
    """Where Claude Code keeps per-project state for the HOME it runs with."""
    config_dir = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(config_dir) / ".claude.json" if config_dir else Path.home() / ".claude.json"


def _update(path: Path, change: Any) -> None:
    """Apply `change` to the projects map of the config."""
    _rewrite(path, lambda data: change(data.setdefault("projects", {})))


STALE_LOCK_SECONDS = 10.0  # proper-lockfile's default: a holder refreshes its lock's mtime sooner
LOCK_WAIT_SECONDS = 30.0


class ConfigLockTimeout(TimeoutError):
    """Another process held Claude Code's config lock for longer than we wait."""


@contextmanager
def config_lock(path: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold Claude Code's own lock on its config file (a directory made atomically)."""
    lock = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + wait
    delay = 0.01
    while not _try_lock(lock):
        if time.monotonic() > deadline:
            raise ConfigLockTimeout(f"{lock} held for over {wait:.0f}s; remove it if stale")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    try:
        yield
    finally:
        os.rmdir(lock)


def _try_lock(lock: Path) -> bool:
    """Take the lock, or clear it when its holder stopped refreshing it and report busy."""
    try:
        os.mkdir(lock)
        return True
    except FileExistsError:
        try:
            if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
                os.rmdir(lock)
        except FileNotFoundError:
            pass
        return False


def _rewrite(path: Path, change: Any) -> None:
    """Read, change and atomically replace the config under its lock, keeping its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with config_lock(path):
        _replace(path, change)


def _replace(path: Path, change: Any) -> None:
    data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    change(data)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".claude.json.")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    if path.is_file():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def trust_folders(folders: list[Path], path: Path | None = None) -> None:
    """Accept the trust dialog for these folders (and the API-key dialog) in one locked write:
    every write holds the lock that running Claude Code sessions wait for."""
    key = os.environ.get("ANTHROPIC_API_KEY")

    def accept(data: dict[str, Any]) -> None:
        projects = data.setdefault("projects", {})
        for folder in folders:
            entry = projects.setdefault(str(folder), {})
            entry["hasTrustDialogAccepted"] = True
            entry.setdefault("hasCompletedProjectOnboarding", True)
        if key:
            _approve_api_key(data, key)

    _rewrite(path or claude_json_path(), accept)


def _approve_api_key(data: dict[str, Any], key: str) -> None:
    """Answer Claude Code's "use this API key?" dialog as the user would have.

    Interactive Claude Code asks once per key and records the answer by the
    key's last 20 characters (never the whole key); an unanswered dialog
    would block every launched agent at start.
    """
    responses = data.setdefault("customApiKeyResponses", {"approved": [], "rejected": []})
    approved = responses.setdefault("approved", [])
    if key[-20:] not in approved:
        approved.append(key[-20:])


def forget_folders(folders: list[Path], path: Path | None = None) -> None:
    target = path or claude_json_path()
    names = {str(folder) for folder in folders}

    def forget(projects: dict[str, Any]) -> None:
        for name in names:
            projects.pop(name, None)

    if target.is_file() and names & set(json.loads(target.read_text()).get("projects", {})):
        _update(target, forget)
