"""The operator's event log: the moments of a run worth a line on `heph up`'s terminal.

Read from the `events` table every change already writes, so the log can never say
something the store does not hold. Each line names its run, task and the task's title
(for a validation, the checked task's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from heph_mcp.cost_records import budget_caps
from heph_mcp.store import Store

# event kind -> the word the log shows
WORDS = {
    "run_started": "queued",
    "task_created": "queued",
    "task_unblocked": "queued",
    "task_retried": "queued",
    "agent_started": "started",
    "task_done": "done",
    "task_validating": "done",
    "review_given": "validated",
    "merge_merged": "merged",
    "merge_nothing": "merged",
    "merge_conflict": "conflict",
    "agent_steered": "steered",
    "task_failed": "failed",
    "merge_verify_failed": "failed",
    # The operator's own controls, so the terminal shows what the user changed by hand.
    "task_cancelled": "cancelled",
    "task_retried_by_user": "retried",
    "task_priority_changed": "priority",
    "agent_stopped": "stopped",
    "user_message": "told",
    "run_paused": "paused",
    "run_resumed": "resumed",
    # How a run ends: its result, its budget, its close (these name the run's goal).
    "result_submitted": "result",
    "result_rejected": "rejected",
    "budget_warning": "budget",
    "budget_set": "budget",
    "run_over_budget": "budget",
    "run_completed": "completed",
    "run_cancelled": "cancelled",
}
NOTES = {
    "run_started": "a new run's first task",
    "task_retried": "retry",
    "task_validating": "awaiting validation",
    "merge_nothing": "nothing new to merge",
    "merge_verify_failed": "its merge failed the verify check",
    "task_retried_by_user": "by the user",
    "result_submitted": "submitted; its check is queued",
    "budget_warning": "used {used} of the budget",
    "run_over_budget": "over budget ({used}): nothing new launches",
    "budget_set": "set by hand: {caps}",
}
REASONED = (
    "task_retried",
    "task_failed",
    "task_cancelled",
    "task_retried_by_user",
    "agent_stopped",
)
QUERY = (
    "SELECT e.id, e.kind, e.run_id, e.task_id, e.detail, e.at, t.title, t.validates,"
    " v.title AS checked_title, r.goal FROM events e LEFT JOIN tasks t ON t.id = e.task_id"
    " LEFT JOIN tasks v ON v.id = t.validates LEFT JOIN runs r ON r.id = e.run_id"
    f" WHERE e.id > ? AND e.kind IN ({', '.join('?' * len(WORDS))}) ORDER BY e.id LIMIT ?"
)


@dataclass(frozen=True)
class EventLine:
    id: int
    at: float
    word: str
    run_id: str
    task_id: str
    title: str
    note: str = ""


class EventFeed:
    def __init__(self, store: Store):
        self._store = store

    async def latest(self) -> int:
        row = await self._store.fetchone("SELECT COALESCE(MAX(id), 0) AS id FROM events")
        return int(row["id"]) if row else 0

    async def since(self, after: int, limit: int = 500) -> tuple[int, list[EventLine]]:
        """Lines for events after id `after` (the newest id looked at, and the lines)."""
        rows = await self._store.fetchall(QUERY, (after, *WORDS, limit))
        lines = [line for row in rows if (line := _line(row)) is not None]
        return (int(rows[-1]["id"]) if rows else after), lines


def _line(row: object) -> EventLine | None:
    data = dict(row)  # type: ignore[call-overload]
    detail = json.loads(data["detail"] or "{}")
    kind = data["kind"]
    if kind == "task_created" and detail.get("status") != "queued":
        return None  # blocked or a duplicate: not queued
    if kind == "review_given" and not detail.get("passed"):
        return None  # a failed check shows as the task going back to work
    note = _note(kind, detail)
    # A validation names the task it checked; a result validation has none and names itself.
    checked = kind == "review_given" and data["validates"] is not None
    task_id = data["validates"] if checked else data["task_id"]
    title = data["checked_title"] if checked else data["title"]
    return EventLine(
        id=data["id"], at=data["at"], word=WORDS[kind], run_id=data["run_id"] or "",
        task_id=task_id or "", title=title or (data["goal"] if not task_id else "") or "",
        note=note.splitlines()[0][:160] if note else "",
    )  # fmt: skip


def _note(kind: str, detail: dict[str, object]) -> str:
    caps = budget_caps(detail.get("tokens"), detail.get("usd")) if kind == "budget_set" else ""
    note = NOTES.get(kind, "").format(used=detail.get("used", "?"), caps=caps)
    if kind == "task_priority_changed" and detail.get("priority"):
        note = str(detail["priority"])
    if kind in REASONED and detail.get("reason"):
        note = f"{note}: {detail['reason']}" if note else str(detail["reason"])
    if kind == "result_rejected":
        note = f"the run's result: {detail.get('feedback', '')}"
    cancelled = detail.get("cancelled_tasks")
    if kind.startswith("run_") and isinstance(cancelled, int) and cancelled:
        note = f"{cancelled} open task{'s' if cancelled > 1 else ''} cancelled"
    return note
