"""Mark an agent's worktree as trusted in Claude Code's own config, and forget it after.

Claude Code asks "do you trust this folder?" on first start in a directory,
which would block a launched agent forever. Accepting that dialog is what
the user would do; we record exactly that one flag for the worktree (and
remove it when the worktree goes), writing the file atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def claude_json_path() -> Path:
    """Where Claude Code keeps per-project state for the HOME it runs with."""
    config_dir = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(config_dir) / ".claude.json" if config_dir else Path.home() / ".claude.json"


def _update(path: Path, change: Any) -> None:
    data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    change(data.setdefault("projects", {}))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".claude.json.")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    if path.is_file():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def trust_folder(folder: Path, path: Path | None = None) -> None:
    def accept(projects: dict[str, Any]) -> None:
        entry = projects.setdefault(str(folder), {})
        entry["hasTrustDialogAccepted"] = True
        entry.setdefault("hasCompletedProjectOnboarding", True)

    _update(path or claude_json_path(), accept)


def forget_folder(folder: Path, path: Path | None = None) -> None:
    target = path or claude_json_path()
    if target.is_file() and str(folder) in json.loads(target.read_text()).get("projects", {}):
        _update(target, lambda projects: projects.pop(str(folder), None))
