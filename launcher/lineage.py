"""Where a task's worktree starts: the run's branch with the work the task comes from.

Merges into `heph/<run>` wait on validation, conflicts and the verify check,
so a tester, a fix or a retest started from the run's branch alone would not
see the code it is about. A new work task therefore starts from `heph/<run>`
with its creator's branch and its dependencies' branches merged in (those
not merged yet), built on objects alone like every merge here. The brief
then says exactly what the worktree holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from heph_mcp.services.common import task_branch
from launcher.git_repo import GitError, GitRepo, run_branch

Role = Literal["run", "creator", "dependency", "base", "earlier_attempt", "checked"]
ROLE_WORDS = {
    "run": "the run's branch: every merged task",
    "creator": "the work of task {task}, which created this task",
    "dependency": "the work of task {task}, which this task depends on",
    "base": "the branch this task was asked to start from",
    "earlier_attempt": "this task's own branch from an earlier attempt, with its commits",
    "checked": "the work you check, read-only",
}

LATER_COMMITS = (
    "Those branches are merged in as they were at your start; commits made on them later"
    " are not (`git log --graph` shows the merges)."
)


@dataclass(frozen=True)
class Source:
    branch: str
    role: Role
    task_id: str | None = None
    commit: str = ""


@dataclass
class Holding:
    """What a worktree held when its agent started, for the brief and for get_task."""

    start: str
    holds: list[Source]
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = ["## What your worktree holds", f"It starts at commit {self.start[:12]}, with:"]
        for source in self.holds:
            what = ROLE_WORDS[source.role].format(task=source.task_id)
            lines.append(f"- {source.branch} at {source.commit[:12]}: {what}")
        if any(s.role in ("creator", "dependency") for s in self.holds):
            lines.append(LATER_COMMITS)
        return "\n".join(lines + self.notes)

    def record(self) -> dict[str, Any]:
        """The shape of the server's Lineage record."""
        holds = [{"branch": s.branch, "commit": s.commit, "task_id": s.task_id, "role": s.role}
                 for s in self.holds]  # fmt: skip
        return {"start": self.start, "holds": holds, "notes": self.notes}


def sources(task: dict[str, Any], parent: dict[str, Any] | None) -> list[Source]:
    """The tasks whose work this one builds on: its creator first, then its dependencies."""
    creator = _creator(parent)
    wanted: list[tuple[str, Role]] = [(creator, "creator")] if creator else []
    wanted += [(d, "dependency") for d in task.get("depends_on", []) if d != creator]
    return [Source(task_branch(task["run_id"], i), role, i) for i, role in wanted]


def _creator(parent: dict[str, Any] | None) -> str | None:
    """A task created by a validator comes from the work that validator checks."""
    if parent is None:
        return None
    if parent.get("kind", "work") == "work":
        return str(parent["id"])
    return parent.get("validates")  # None for a result validator: it checks the run's branch


def start_point(repo: GitRepo, run_id: str, wanted: list[Source], task_id: str) -> Holding:
    """Merge each wanted branch that is not in `heph/<run>` yet onto it, on objects alone.

    If the first of them conflicts with the run's branch, the worktree starts from that
    branch instead (its work matters more to this task than what merged since); a later
    one that conflicts is left out. The notes say which, and how to bring it in.
    """
    base = repo.resolve(f"refs/heads/{run_branch(run_id)}")
    if base is None:
        raise GitError(f"the run's branch {run_branch(run_id)} is missing")
    holding = Holding(base, [Source(run_branch(run_id), "run", None, base)])
    for source in wanted:
        commit = repo.resolve(f"refs/heads/{source.branch}")
        if commit is not None and not repo.is_ancestor(commit, holding.start):
            _bring_in(repo, holding, Source(source.branch, source.role, source.task_id, commit),
                      task_id)  # fmt: skip
    return holding


def _bring_in(repo: GitRepo, holding: Holding, source: Source, task_id: str) -> None:
    if repo.is_ancestor(holding.start, source.commit):
        holding.start = source.commit  # nothing merged since it branched: start from it
        holding.holds.append(source)
        return
    message = f"heph: start {task_id} with {source.branch}"
    outcome = repo.merge_commit(holding.start, source.commit, message)
    if outcome.commit is not None:
        holding.start = outcome.commit
        holding.holds.append(source)
        return
    files = ", ".join(outcome.conflicts[:8])
    if [s.role for s in holding.holds] == ["run"]:  # the first: start from it, not the run's
        run = holding.holds[0]
        holding.start, holding.holds = source.commit, [source]
        holding.notes.append(
            f"Merging {source.branch} onto {run.branch} conflicted in {files}, so your worktree"
            f" starts from {source.branch} alone: {run.branch} at {run.commit[:12]} is NOT in it."
            f" `git merge {run.branch}` brings it in if your task needs it."
        )
    else:
        holding.notes.append(
            f"{source.branch} ({ROLE_WORDS[source.role].format(task=source.task_id)}) conflicts"
            f" with the rest in {files} and is NOT in your worktree; `git merge {source.branch}`"
            " brings it in if your task needs it."
        )


def plain(start: str, source: Source) -> Holding:
    """A worktree of one branch as it is: a retry's own branch, a base_ref, a validator's."""
    return Holding(start, [Source(source.branch, source.role, source.task_id, start)])
