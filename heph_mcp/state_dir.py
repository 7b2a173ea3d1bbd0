"""The project's state folder (`.hephaestus/`): tokens, the database, Qdrant, logs, worktrees.

Whichever command makes it first, it is made the same way: only its owner may
enter it, and a `.gitignore` of `*` inside keeps all of it out of the user's
`git add -A` without touching the repository's own files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def prepare_state_dir(state: Path) -> Path:
    """Create `state` (0700) or close an existing one to others; ignore it in git."""
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(state.stat().st_mode) & 0o077:
        os.chmod(state, 0o700)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return state
