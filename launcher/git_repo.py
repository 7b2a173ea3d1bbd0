"""The project's git repository, as the launcher needs it: branches, worktrees, merges.

The user's working copy, index and HEAD are never touched: task work happens
in worktrees, and merging into the run's branch is done on objects alone
(`git merge-tree --write-tree` then `commit-tree` and a compare-and-swap
`update-ref`). Every call runs git in a thread, one at a time per repository,
so concurrent launches never race on git's own lock files.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from git import Repo
from git.exc import InvalidGitRepositoryError, NoSuchPathError

# Commits Hephaestus itself makes (merges, an agent's uncommitted leftovers).
OWN_IDENTITY = {
    # Agents may write objects and their own refs; a replace ref one of them planted must
    # not change what our merges read.
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_AUTHOR_NAME": "Hephaestus",
    "GIT_AUTHOR_EMAIL": "hephaestus@localhost",
    "GIT_COMMITTER_NAME": "Hephaestus",
    "GIT_COMMITTER_EMAIL": "hephaestus@localhost",
}


SAFE = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null")


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

    def _git(
        self, *args: str, cwd: Path | None = None, check: bool = True, shared: bool = True
    ) -> tuple[int, str]:
        """Run git; `shared=False` is for a worktree only its caller uses (the merge queue's
        scratch), whose checkout writes none of the files the lock guards."""
        # Our git runs in agents' worktrees too: nothing there may make it run a program.
        command = ["git", "-C", str(cwd or self.root), *SAFE, *args]
        with self._lock if shared else contextlib.nullcontext():
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

    def tips(self, *branches: str) -> dict[str, str | None]:
        """The commit of each branch (None when it does not exist), in one git call."""
        refs = [f"refs/heads/{b}" for b in branches]
        out = self._git("for-each-ref", "--format=%(refname) %(objectname)", *refs)[1]
        found = dict(line.split(" ", 1) for line in out.splitlines() if line)
        return {b: found.get(r) for b, r in zip(branches, refs, strict=True)}

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
        outcome = self.merge_commit(old, new, message)
        if outcome.commit is not None and not self.advance(target, outcome.commit, old):
            raise GitError(f"{target} moved while {source} was merged into it; nothing changed")
        return outcome

    def merge_commit(self, old: str, new: str, message: str) -> MergeOutcome:
        """The merge of commit `new` into commit `old`, made on objects alone: no branch moves.

        "merged" carries the new merge commit, still unreferenced; "nothing" means `new` is
        already in `old`.
        """
        if self.is_ancestor(new, old):
            return MergeOutcome("nothing")
        status, out = self._git(
            "merge-tree", "--write-tree", "--name-only", "--no-messages", old, new, check=False
        )
        lines = out.splitlines()
        if status == 1:
            return MergeOutcome("conflict", conflicts=sorted(set(lines[1:])))
        if status != 0 or not lines:
            raise GitError(f"git merge-tree failed ({status}) merging {new[:12]} into {old[:12]}")
        commit = self._git("commit-tree", lines[0], "-p", old, "-p", new, "-m", message)[1]
        return MergeOutcome("merged", commit=commit.strip())

    def advance(self, branch: str, new: str, old: str) -> bool:
        """Compare-and-swap: move `branch` from `old` to `new`; False if it no longer is `old`."""
        return self._git("update-ref", f"refs/heads/{branch}", new, old, check=False)[0] == 0

    def is_ancestor(self, commit: str, of: str) -> bool:
        return self._git("merge-base", "--is-ancestor", commit, of, check=False)[0] == 0

    def checkout_scratch(self, path: Path, commit: str) -> None:
        """A detached checkout of `commit` at `path`: a worktree made once and reused (a
        checkout between two merged trees touches only what differs). `clean_scratch` must
        have removed what the last command left there."""
        if (path / ".git").exists():
            self._git("checkout", "-q", "--detach", "--force", commit, cwd=path, shared=False)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._git("worktree", "prune")
        self._git("worktree", "add", "-q", "--detach", str(path), commit)

    def clean_scratch(self, path: Path) -> None:
        """Remove every file the last check made (build output, caches, ignored ones too)."""
        if (path / ".git").exists():
            self._git("clean", "-q", "-ffdx", cwd=path, shared=False)

    def current_branch(self) -> str | None:
        """The branch checked out in the project's own working copy; None when detached."""
        status, out = self._git("symbolic-ref", "--short", "-q", "HEAD", check=False)
        return out.strip() if status == 0 else None

    def checked_out_at(self, branch: str) -> Path | None:
        """The working copy (the project's or any worktree) that has `branch` checked out."""
        listing = self._git("worktree", "list", "--porcelain")[1]
        path = None
        for line in listing.splitlines():
            if line.startswith("worktree "):
                path = Path(line.removeprefix("worktree "))
            elif line == f"branch refs/heads/{branch}":
                return path
        return None

    def dirty_files(self, path: Path) -> list[str]:
        """Tracked files with changes, staged or not, in the working copy at `path`."""
        out = self._git("status", "--porcelain", "--untracked-files=no", cwd=path)[1]
        return sorted(line[3:].strip() for line in out.splitlines() if line.strip())

    def read_tree(self, path: Path, old: str, new: str, dry_run: bool = False) -> None:
        """Move the index and files at `path` from `old` to `new` (a clean working copy whose
        branch was just moved); a dry run says whether it would refuse, changing nothing."""
        self._git("read-tree", *(["-n"] if dry_run else []), "-m", "-u", old, new, cwd=path)

    def diff_stat(self, base: str, branch: str) -> tuple[str, int, int, int]:
        """`git diff --stat` of `branch` since it left `base` (three dots), and its files,
        insertions and deletions; empty when either is missing."""
        status, out = self._git("diff", "--stat=100", f"{base}...{branch}", check=False)
        if status != 0:
            return "", 0, 0, 0
        numbers = [0, 0, 0]
        last = out.splitlines()[-1] if out.strip() else ""
        for count, word in re.findall(r"(\d+) (file|insertion|deletion)", last):
            numbers[("file", "insertion", "deletion").index(word)] = int(count)
        return out, numbers[0], numbers[1], numbers[2]

    def task_branches(self) -> list[str]:
        """Every task's branch, `heph/<run>-<task>` (a run's own branch has no dash)."""
        out = self._git("for-each-ref", "--format=%(refname:short)", "refs/heads/heph/")[1]
        return [b for b in out.split() if "-" in b.removeprefix("heph/")]

    def delete_branch(self, name: str) -> None:
        self._git("branch", "-D", name, check=False)


def changed_files(worktree: Path, base: str) -> list[str]:
    """Files an agent changed in its worktree: committed since `base`, staged, or untracked."""
    repo = open_repo(worktree)
    committed = repo._git("diff", "--name-only", f"{base}...HEAD", cwd=worktree, check=False)[1]
    status = repo._git("status", "--porcelain", "--untracked-files=all", cwd=worktree)[1]
    names = set(committed.split()) | {line[3:].strip() for line in status.splitlines() if line}
    return sorted(n for n in names if n)
