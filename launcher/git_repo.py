"""The project's git repository, as the launcher needs it: branches, worktrees, merges.

The user's working copy, index and HEAD are never touched: task work happens
in worktrees, and merging into the run's branch is done on objects alone
(`git merge-tree --write-tree` then `commit-tree` and a compare-and-swap
`update-ref`). Every call runs git in a thread, one at a time per repository,
so concurrent launches never race on git's own lock files.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from git import Repo
from git.exc import InvalidGitRepositoryError, NoSuchPathError

# Commits Hephaestus itself makes (merges, an agent's uncommitted leftovers).
OWN_IDENTITY = {
    "GIT_AUTHOR_NAME": "Hephaestus",
    "GIT_AUTHOR_EMAIL": "hephaestus@localhost",
    "GIT_COMMITTER_NAME": "Hephaestus",
    "GIT_COMMITTER_EMAIL": "hephaestus@localhost",
}


class GitError(RuntimeError):
    """A git operation failed; the message names the command and git's own words."""


@dataclass
class MergeOutcome:
    state: Literal["merged", "nothing", "conflict"]
    commit: str | None = None
    conflicts: list[str] = field(default_factory=list)


def run_branch(run_id: str) -> str:
    return f"heph/{run_id}"


def open_repo(path: Path) -> GitRepo:
    """Open the project's repository or say how to make one."""
    try:
        repo = Repo(path)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise GitError(
            f"not a git repository: {path}: agents work in git worktrees, so run "
            "`git init && git commit --allow-empty -m init` there, or pass --project REPO"
        ) from None
    if repo.bare:
        raise GitError(f"{path} is a bare repository; point --project at a working copy")
    if not repo.head.is_valid():
        raise GitError(f"{path} has no commits yet: make a first commit (agents branch from HEAD)")
    return GitRepo(repo)


class GitRepo:
    def __init__(self, repo: Repo):
        self._repo = repo
        self.root = Path(repo.working_tree_dir or ".")
        # Where every worktree's commits go (objects, refs): agents' sandboxes may write it.
        self.common_dir = Path(repo.common_dir).resolve()
        self._lock = threading.Lock()

    def _git(self, *args: str, cwd: Path | None = None, check: bool = True) -> tuple[int, str]:
        command = ["git", "-C", str(cwd or self.root), *args]
        with self._lock:
            status, out, err = self._repo.git.execute(
                command, with_extended_output=True, with_exceptions=False, env=OWN_IDENTITY
            )
        if check and status != 0:
            raise GitError(f"git {' '.join(args[:3])} failed ({status}): {err.strip()[:500]}")
        return int(status), str(out)

    async def call(self, method: str, *args: Any) -> Any:
        """Run one of this adapter's blocking methods off the event loop."""
        return await asyncio.to_thread(getattr(self, method), *args)

    def has_identity(self) -> bool:
        return self._git("config", "user.email", check=False)[0] == 0

    def head(self) -> str:
        return self._git("rev-parse", "HEAD")[1].strip()

    def resolve(self, ref: str) -> str | None:
        status, out = self._git("rev-parse", "--verify", "-q", ref + "^{commit}", check=False)
        return out.strip() if status == 0 else None

    def ensure_branch(self, name: str, start: str = "HEAD") -> str:
        """Create the branch at `start` unless it exists; returns its commit."""
        if self.resolve(f"refs/heads/{name}") is None:
            self._git("branch", name, start)
        return self.resolve(f"refs/heads/{name}") or ""

    def add_worktree(self, path: Path, branch: str, start: str) -> None:
        """A worktree on `branch`, created from `start` unless the branch already exists.

        An existing branch is a retried task: its earlier commits are kept.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        self._git("worktree", "prune")
        if self.resolve(f"refs/heads/{branch}") is not None:
            self._git("worktree", "add", str(path), branch)
        else:
            self._git("worktree", "add", "-b", branch, str(path), start)

    def add_review_worktree(self, path: Path, ref: str) -> None:
        """A detached, read-only checkout of `ref` for a validator: it judges, never commits.

        Files lose their write bits; folders keep theirs so the worktree can be removed.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        self._git("worktree", "prune")
        self._git("worktree", "add", "--detach", str(path), ref)
        for file in path.rglob("*"):
            if file.is_file() and not file.is_symlink() and file.name != ".git":
                file.chmod(file.stat().st_mode & ~0o222)

    def remove_worktree(self, path: Path) -> None:
        if path.exists():
            self._git("worktree", "remove", "--force", str(path), check=False)
        self._git("worktree", "prune")

    def commit_leftovers(self, path: Path, message: str) -> str | None:
        """Commit whatever the agent left uncommitted in its worktree; None if clean."""
        if not path.is_dir():
            return None
        self._git("add", "-A", cwd=path)
        if self._git("diff", "--cached", "--quiet", cwd=path, check=False)[0] == 0:
            return None
        self._git("commit", "-q", "--no-verify", "-m", message, cwd=path)
        return self._git("rev-parse", "HEAD", cwd=path)[1].strip()

    def merge(self, target: str, source: str, message: str) -> MergeOutcome:
        """Merge branch `source` into branch `target` without any working copy."""
        old = self.resolve(f"refs/heads/{target}")
        new = self.resolve(f"refs/heads/{source}")
        if old is None or new is None:
            raise GitError(f"cannot merge {source} into {target}: a branch is missing")
        if self._git("merge-base", "--is-ancestor", new, old, check=False)[0] == 0:
            return MergeOutcome("nothing")
        status, out = self._git(
            "merge-tree", "--write-tree", "--name-only", "--no-messages", old, new, check=False
        )
        lines = out.splitlines()
        if status == 1:
            return MergeOutcome("conflict", conflicts=sorted(set(lines[1:])))
        if status != 0 or not lines:
            raise GitError(f"git merge-tree failed ({status}) merging {source} into {target}")
        commit = self._git("commit-tree", lines[0], "-p", old, "-p", new, "-m", message)[1]
        # Compare-and-swap: fails rather than overwrite a branch that moved meanwhile.
        self._git("update-ref", f"refs/heads/{target}", commit.strip(), old)
        return MergeOutcome("merged", commit=commit.strip())

    def delete_branch(self, name: str) -> None:
        self._git("branch", "-D", name, check=False)


def changed_files(worktree: Path, base: str) -> list[str]:
    """Files an agent changed in its worktree: committed since `base`, staged, or untracked."""
    repo = open_repo(worktree)
    committed = repo._git("diff", "--name-only", f"{base}...HEAD", cwd=worktree, check=False)[1]
    status = repo._git("status", "--porcelain", "--untracked-files=all", cwd=worktree)[1]
    names = set(committed.split()) | {line[3:].strip() for line in status.splitlines() if line}
    return sorted(n for n in names if n)
