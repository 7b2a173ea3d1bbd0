"""What the ticket service returns; these models are also the ticket tools' output schemas.

Kept apart from records.py so the task records stay small and ticket changes
never touch the task schema.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Self

import aiosqlite
from pydantic import BaseModel, Field

from heph_mcp.records import PRIORITY_NAME, Priority, iso

TicketType = Literal["bug", "feature", "task", "improvement"]


class TicketSummary(BaseModel):
    """A ticket as lists show it."""

    id: str
    run_id: str
    title: str
    type: TicketType
    priority: Priority
    status: str = Field(description="A column of the workflow's board")
    assignee: str | None = None
    tags: list[str] = Field(default_factory=list)
    blocked_by: list[str] = Field(default_factory=list)
    blocked: bool = Field(default=False, description="Some ticket in blocked_by is unresolved")
    resolved: bool = False
    updated_at: str | None = None

    @classmethod
    def from_row(cls, row: aiosqlite.Row, blocked_by: list[str], open_blockers: int) -> Self:
        """Build from a `tickets` row; columns the model lacks are ignored."""
        data: dict[str, Any] = dict(row)
        data.update(
            priority=PRIORITY_NAME.get(data["priority"], "medium"),
            tags=json.loads(data["tags"]),
            blocked_by=blocked_by,
            blocked=open_blockers > 0,
            resolved=data["resolved_at"] is not None,
        )
        for key in ("created_at", "updated_at", "resolved_at"):
            data[key] = iso(data[key])
        return cls.model_validate(data)


class TicketComment(BaseModel):
    id: int
    author: str
    text: str
    at: str | None


class TicketChange(BaseModel):
    """One history entry: who changed which field from what to what, when."""

    actor: str
    field: str
    old: str | None
    new: str | None
    at: str | None


class LinkedTask(BaseModel):
    id: str
    title: str
    phase: int
    status: str


class LinkedCommit(BaseModel):
    task_id: str
    commit: str = Field(description="The merge commit of the task's branch into heph/<run>")


class Ticket(TicketSummary):
    description: str
    created_by: str
    created_at: str | None = None
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: str | None = None
    blocks: list[str] = Field(default_factory=list, description="Tickets blocked by this one")
    comments: list[TicketComment] = Field(default_factory=list)
    history: list[TicketChange] = Field(default_factory=list)
    tasks: list[LinkedTask] = Field(default_factory=list)
    commits: list[LinkedCommit] = Field(default_factory=list)


class TicketList(BaseModel):
    tickets: list[TicketSummary] = Field(description="Summaries; get_ticket gives one in full")


class TicketHit(BaseModel):
    ticket: TicketSummary
    score: float = Field(description="Reciprocal-rank-fusion score; higher is better")
    keyword_rank: int | None = Field(description="1-based rank by SQLite FTS5 (bm25), if matched")
    semantic_rank: int | None = Field(description="1-based rank by embedding similarity")


class TicketHits(BaseModel):
    hits: list[TicketHit] = Field(description="Best first")
