"""What the merge queue, lineage and landing records look like; also tools' output schemas.

Kept apart from records.py as tickets are: one concern, and records.py's Task
only needs the few models it embeds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

MergeState = Literal["queued", "verifying", "merged", "nothing", "conflict", "verify_failed"]
# A task's work is on the run's branch once its merge ends in one of these.
LANDED = ("merged", "nothing")
# Merges the queue still owes: shown as the run's merge queue.
PENDING_MERGES = ("queued", "verifying")
OUTPUT_MAX = 20000


class MergeCheck(BaseModel):
    """The latest run of a task's verify command on its merged tree."""

    command: str = Field(max_length=4096)
    passed: bool
    exit_code: int | None = Field(default=None, description="None when it was stopped")
    timed_out: bool = False
    seconds: float = Field(default=0.0, ge=0, description="The command's own run time")
    output: str = Field(default="", max_length=OUTPUT_MAX, description="The end of its output")
    log: str | None = Field(default=None, max_length=4096, description="Its whole output")


class LineageSource(BaseModel):
    """One branch whose work a task's worktree started with."""

    branch: str = Field(max_length=256)
    commit: str = Field(pattern=r"^[0-9a-f]{40,64}$")
    task_id: str | None = Field(default=None, max_length=64)
    role: Literal["run", "creator", "dependency", "base", "earlier_attempt", "checked"]


class Lineage(BaseModel):
    """What a task's worktree held when its agent started: which branches, at which commits."""

    start: str = Field(pattern=r"^[0-9a-f]{40,64}$", description="The worktree's first commit")
    holds: list[LineageSource] = Field(max_length=100)
    notes: list[Annotated[str, Field(max_length=4000)]] = Field(default_factory=list, max_length=20)


class WorkOnBranch(BaseModel):
    """A done task's work, and whether it is on the run's branch (itself or carried)."""

    task_id: str
    title: str
    status: str
    merge_state: MergeState | None
    landed: bool
    carried_by: str | None = Field(
        default=None, description="The task whose merge brought this work onto the branch"
    )


class QueuedMerge(BaseModel):
    """A merge the run's queue still owes, in queue order."""

    task_id: str
    run_id: str
    title: str
    state: MergeState
    queued_at: str | None
    worker: str | None


class LandRequest(BaseModel):
    """A request to merge a run's branch into the user's branch, carried out by a launcher."""

    id: str
    run_id: str
    into_branch: str | None = Field(description="None: the branch checked out in the project")
    state: Literal["pending", "claimed", "landed", "nothing", "refused"]
    worker: str | None = None
    commit: str | None = None
    message: str = ""
    created_at: str | None = None
    updated_at: str | None = None
