"""Land a run: merge `heph/<run>` into the user's branch, only when the user asks for it.

Until then the user's checkout is never touched. Landing uses the same
compare-and-swap as every merge: the merge commit is made on objects alone,
the branch moves only if nobody moved it meanwhile, and when that branch is
checked out its index and files follow (`git read-tree -m -u old new`). A
checked-out branch with uncommitted changes is refused, so nothing of the
user's is ever overwritten or mixed into the landing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from launcher.git_repo import GitError, GitRepo, run_branch


@dataclass(frozen=True)
class LandOutcome:
    state: Literal["landed", "nothing", "refused"]
    message: str
    commit: str | None = None


def land(repo: GitRepo, run_id: str, into: str | None) -> LandOutcome:
    """Merge the run's branch into `into` (default: the branch checked out in the project)."""
    source = run_branch(run_id)
    new = repo.resolve(f"refs/heads/{source}")
    if new is None:
        return LandOutcome("refused", f"there is no branch {source}: run {run_id} never started")
    target = into or repo.current_branch()
    if target is None:
        return LandOutcome("refused", "HEAD is detached: pass --into BRANCH to say where to land")
    try:
        return _land(repo, source, new, target)
    except GitError as exc:
        return LandOutcome("refused", f"nothing was changed: {exc}")


def _land(repo: GitRepo, source: str, new: str, target: str) -> LandOutcome:
    old = repo.resolve(f"refs/heads/{target}")
    if old is None:
        repo.ensure_branch(target, new)
        return LandOutcome("landed", f"created {target} at {source} ({new[:12]})", new)
    if repo.is_ancestor(new, old):
        return LandOutcome("nothing", f"{target} already holds everything of {source}")
    checkout = repo.checked_out_at(target)
    dirty = repo.dirty_files(checkout) if checkout is not None else []
    if dirty:
        shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
        return LandOutcome(
            "refused",
            f"{target} is checked out at {checkout} with uncommitted changes ({shown}): commit or"
            " stash them, then land again; nothing was changed",
        )
    fast_forward = repo.is_ancestor(old, new)
    merged = None if fast_forward else repo.merge_commit(old, new, f"Land {source}")
    commit = new if merged is None else merged.commit
    if commit is None:
        assert merged is not None
        return LandOutcome(
            "refused",
            f"{source} conflicts with {target} in {', '.join(merged.conflicts[:10])}: merge it"
            f" yourself (`git merge {source}` on {target}); nothing was changed",
        )
    if checkout is not None:
        repo.read_tree(checkout, old, commit, dry_run=True)  # refuses before anything moves
    if not repo.advance(target, commit, old):
        return LandOutcome("refused", f"{target} moved while landing; nothing was changed")
    if checkout is not None:
        repo.read_tree(checkout, old, commit)
    how = "fast-forward" if fast_forward else "merge commit"
    return LandOutcome("landed", f"landed {source} on {target} at {commit[:12]} ({how})", commit)
