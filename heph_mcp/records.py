"""What the service layer returns; these models are also the tools' output schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal, Self

import aiosqlite
from pydantic import BaseModel, Field

from heph_mcp.cost_records import RunCost
from heph_mcp.merge_records import (
    LandRequest,
    Lineage,
    MergeCheck,
    MergeState,
    QueuedMerge,
    WorkOnBranch,
)

Role = Literal["user", "agent", "ops"]
TaskStatus = Literal[
    "queued",
    "blocked",
    "claimed",
    "running",
    "validating",
    "needs_work",
    "done",
    "failed",
    "cancelled",
    "duplicate",
]
Priority = Literal["low", "medium", "high", "critical"]
TaskKind = Literal["work", "validation", "result_validation"]
PRIORITY_VALUE: dict[str, int] = {"low": 1, "medium": 2, "high": 3, "critical": 4}
PRIORITY_NAME = {v: k for k, v in PRIORITY_VALUE.items()}
OPEN_STATUSES = ("queued", "blocked", "claimed", "running", "validating", "needs_work")
ACTIVE_STATUSES = ("claimed", "running", "validating")
FINAL_STATUSES = ("done", "failed", "cancelled", "duplicate")


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


class Principal(BaseModel):
    """Who is calling, derived from the bearer token alone."""

    id: str
    role: Role
    run_id: str | None = None
    task_id: str | None = None


class TaskSummary(BaseModel):
    """A task as lists show it: enough to choose, without the long texts."""

    id: str
    run_id: str
    phase: int
    phase_name: str
    title: str
    priority: Priority
    status: TaskStatus
    created_by: str
    parent_task_id: str | None
    depends_on: list[str] = Field(default_factory=list)
    updated_at: str | None = None
    kind: TaskKind = Field(
        default="work", description="work, or a validator's check of a task or of the result"
    )
    merge_state: MergeState | None = Field(
        default=None, description="Where its branch is in the run's merge queue, or how it merged"
    )

    @classmethod
    def from_row(cls, row: aiosqlite.Row, phase_name: str, depends_on: list[str]) -> Self:
        """Build from a `tasks` row; columns the model lacks are ignored."""
        data: dict[str, Any] = dict(row)
        data.update(
            phase_name=phase_name,
            depends_on=depends_on,
            priority=PRIORITY_NAME.get(data["priority"], "medium"),
        )
        for key in ("created_at", "updated_at", "finished_at", "merge_queued_at"):
            if key in data:
                data[key] = iso(data[key])
        for key in ("learnings", "merge_check", "lineage", "requires"):
            if data.get(key) is not None:
                data[key] = json.loads(data[key])
        if "requires" in data and data["requires"] is None:
            data["requires"] = []
        return cls.model_validate(data)


SUMMARY_COLUMNS = (
    "id, run_id, phase, title, priority, status, created_by, parent_task_id, updated_at, kind,"
    " merge_state"
)


class RelatedTask(BaseModel):
    id: str
    title: str
    phase: int
    status: str
    score: float = Field(description="Cosine similarity of title + description, 0..1")


class Task(TaskSummary):
    description: str
    done_definition: str
    summary: str | None = None
    learnings: list[str] = Field(default_factory=list)
    attempts: int = 0
    failure_reason: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
    duplicate_of: str | None = Field(
        default=None, description="Set when status is duplicate: the existing task to follow"
    )
    related: list[RelatedTask] = Field(default_factory=list)
    base_ref: str | None = Field(
        default=None, description="Git ref the task's branch starts from, if not the run's branch"
    )
    merge_commit: str | None = None
    merge_queued_at: str | None = None
    merge_check: MergeCheck | None = Field(
        default=None, description="The latest run of the verify command on its merged tree"
    )
    carries: str | None = Field(
        default=None,
        description="The task whose work this one carries (a resolve or fix started from its"
        " branch): when this one merges, that work is on the run's branch too",
    )
    lineage: Lineage | None = Field(
        default=None, description="What its worktree held when its agent started"
    )
    validates: str | None = Field(
        default=None, description="For a validation task: the task whose work it checks"
    )
    requires: list[str] = Field(
        default_factory=list,
        description="Worker labels a worker must have to claim it (besides its phase's)",
    )
    result_id: str | None = Field(
        default=None, description="For a result validation task: the result it checks"
    )
    feedback: str | None = Field(
        default=None, description="Why this task's work was last sent back"
    )
    feedback_from: Literal["validator", "verify"] | None = Field(
        default=None, description="Who sent it back: a validator, or the merge's verify command"
    )

    ticket_id: str | None = Field(
        default=None, description="The ticket this task works on, when the run has tickets"
    )


class Result(BaseModel):
    """A run's answer, submitted by an agent and checked against the result criteria."""

    id: str
    run_id: str
    task_id: str | None
    submitted_by: str
    markdown: str
    evidence: list[str]
    status: Literal["pending", "validated", "rejected"]
    feedback: str | None = None
    created_at: str | None = None
    decided_at: str | None = None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Result:
        data = dict(row)
        data["evidence"] = json.loads(data["evidence"])
        data["created_at"], data["decided_at"] = iso(data["created_at"]), iso(data["decided_at"])
        return cls(**data)


ApprovalStatus = Literal["pending", "allowed", "denied", "expired", "cancelled"]


class Approval(BaseModel):
    """An agent's request for something its settings do not allow, and how it was decided."""

    id: str
    run_id: str
    task_id: str
    agent_id: str
    tool: str = Field(description="The tool the agent asked to use, e.g. Bash, AskUserQuestion")
    subject: str = Field(description="What it acts on: a command, a path, a URL, a question")
    input: dict[str, Any] = Field(description="The tool's input as the agent sent it")
    status: ApprovalStatus
    decided_by: str | None = Field(
        default=None, description="The policy rule, the user, or 'timeout' when none answered"
    )
    message: str = Field(default="", description="What the agent is told")
    answers: dict[str, str] | None = Field(
        default=None, description="The user's answers to an AskUserQuestion, question -> answer"
    )
    created_at: str | None = None
    expires_at: str | None = None
    decided_at: str | None = None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Approval:
        data = dict(row)
        data["input"] = json.loads(data["input"])
        data["answers"] = json.loads(data["answers"]) if data["answers"] else None
        for key in ("created_at", "expires_at", "decided_at"):
            data[key] = iso(data[key])
        return cls(**data)


class Review(BaseModel):
    """What a validator's verdict did."""

    passed: bool
    task: TaskSummary | None = Field(default=None, description="The task that was checked")
    result: Result | None = Field(default=None, description="The result that was checked")
    outcome: str = Field(description="What happens next, in words")


class TaskList(BaseModel):
    tasks: list[TaskSummary] = Field(description="Summaries; get_task gives one in full")


class Run(BaseModel):
    id: str
    workflow: str
    goal: str
    params: dict[str, str | int]
    status: Literal["active", "completed", "cancelled"]
    created_at: str | None
    awaiting_merges: bool = Field(
        default=False,
        description="Its result is validated; it completes once every done task's work is on"
        " its branch",
    )
    paused: bool = Field(default=False, description="Paused by the user: nothing new launches")
    over_budget: bool = Field(
        default=False, description="Its budget is spent: nothing new launches"
    )


class Agent(BaseModel):
    id: str
    task_id: str
    run_id: str
    session_name: str
    worktree: str | None
    cli: str
    worker: str
    status: Literal["running", "exited"]
    exit_reason: str | None
    started_at: str | None
    ended_at: str | None
    task_status: str | None = None
    last_seen_at: float | None = Field(
        default=None, description="Unix time of the agent's latest MCP request, if any"
    )

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Agent:
        data = dict(row)
        data["started_at"] = iso(data["started_at"])
        data["ended_at"] = iso(data["ended_at"])
        return cls(**data)


class PhaseSummary(BaseModel):
    phase: int
    name: str
    counts: dict[str, int]
    tasks: list[TaskSummary]


class GuardianNote(BaseModel):
    agent_id: str
    task_id: str
    judge: str
    state: str
    alignment: float
    summary: str
    steering: str | None
    at: str | None


class Steer(BaseModel):
    agent_id: str
    source: str
    severity: str
    text: str
    delivered_via: str | None
    at: str | None


class JudgeCost(BaseModel):
    judge: str
    calls: int
    tokens_in: int
    tokens_out: int
    agent_hours: float
    tokens_per_agent_hour: float


class GuardianView(BaseModel):
    notes: list[GuardianNote] = Field(description="Latest judgement of each agent")
    steers: list[Steer] = Field(description="Most recent guidance, newest first")
    costs: list[JudgeCost]


class RunStatus(BaseModel):
    run: Run
    phases: list[PhaseSummary]
    agents: list[Agent]
    guardian: GuardianView | None = Field(
        default=None, description="Latest notes, steers and judge costs"
    )
    results: list[Result] = Field(
        default_factory=list, description="Results submitted for the run, oldest first"
    )
    questions: list[Approval] = Field(
        default_factory=list,
        description="Agents' requests waiting for the user: answer them with answer_question",
    )
    merge_queue: list[QueuedMerge] = Field(
        default_factory=list, description="Merges its queue still owes, in order"
    )
    missing_work: list[WorkOnBranch] = Field(
        default_factory=list, description="Done tasks whose work is not on the run's branch yet"
    )
    landings: list[LandRequest] = Field(
        default_factory=list, description="Requests to land the run's branch, newest first"
    )
    cost: RunCost | None = Field(
        default=None, description="Tokens and estimated dollars per agent, task and run; budget"
    )


class WorkflowStatus(BaseModel):
    runs: list[RunStatus]
    text: str = Field(description="The same status as readable text")
