"""The records of the live view: agents' pane tails, branches' diff stats, a task's detail."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from heph_mcp.records import Task

TEXT_MAX = 16384  # a pane tail or a diff stat kept by the server, in characters


class PaneTail(BaseModel):
    """The end of a running agent's pane, escape sequences stripped, as its launcher saw it."""

    agent_id: str
    task_id: str
    run_id: str
    text: str
    at: float = Field(description="Unix time the launcher captured it")
    seq: int = Field(description="Orders updates: a larger seq is a newer tail")


class TailReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=64)
    text: str = Field(max_length=65536, description="The pane's last lines; stripped on receipt")


class DiffStatReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(min_length=1, max_length=64)
    base: str = Field(min_length=1, max_length=256, description="What it is compared with")
    files: int = Field(ge=0)
    insertions: int = Field(ge=0)
    deletions: int = Field(ge=0)
    text: str = Field(max_length=65536, description="`git diff --stat` output")


class DiffStat(DiffStatReport):
    model_config = ConfigDict(extra="ignore")

    at: str | None = None


class LiveReported(BaseModel):
    tails: int = Field(description="Tails stored")
    diffstats: int = Field(description="Diff stats stored")
    ignored: list[str] = Field(
        default_factory=list,
        description="Agents not running or tasks unknown, with why: nothing was stored for them",
    )


class ReceivedGuidance(BaseModel):
    source: str
    severity: str
    text: str
    created_at: str | None
    delivered_at: str | None
    delivered_via: Literal["prompt", "tool_result"] | None


class TaskDetail(BaseModel):
    """Everything the operator may want about one task, in one answer."""

    task: Task
    brief: str | None = Field(
        default=None, description="The brief its agent reads (rendered now; None if unavailable)"
    )
    guidance: list[ReceivedGuidance] = Field(
        default_factory=list, description="Steering and messages queued for its agents"
    )
    diffstat: DiffStat | None = Field(
        default=None, description="Its branch against heph/<run>, as its launcher last saw it"
    )
    agents: list[str] = Field(default_factory=list, description="Its running agents, if any")


class AgentOutput(BaseModel):
    agent_id: str
    task_id: str
    status: str
    tail: PaneTail | None = Field(
        default=None, description="None until its launcher has reported the pane"
    )
