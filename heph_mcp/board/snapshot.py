"""What the board shows, read through the service layer and shaped for the page.

One snapshot holds every run (the page picks one): its kanban columns, its
task graph, its agents with the Guardian's latest note, recent steering, and
the queue. The page renders a snapshot whole, so the event stream only ever
sends complete snapshots and the page can never drift from the server.
"""

from __future__ import annotations

from typing import Any

from heph_mcp.records import OPEN_STATUSES, PRIORITY_VALUE, RunStatus, TaskSummary
from heph_mcp.services import Services
from heph_mcp.ticket_records import TicketSummary
from phases import Workflow

# Task statuses grouped into kanban columns, in board order.
TASK_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("queued", "Queued", ("queued",)),
    ("blocked", "Blocked", ("blocked",)),
    ("running", "Running", ("claimed", "running")),
    ("validating", "Validating", ("validating",)),
    ("needs_work", "Needs work", ("needs_work",)),
    ("done", "Done", ("done",)),
    ("failed", "Failed / cancelled", ("failed", "cancelled")),
    ("duplicate", "Duplicate", ("duplicate",)),
)


QUEUE_SHOWN = 15


async def build_snapshot(services: Services) -> dict[str, Any]:
    statuses = await services.runs.status()
    runs = []
    for status in statuses:
        workflow = await services.run_workflows.get(status.run.id)
        tickets = None
        if workflow.config.enable_tickets:
            tickets = await services.tickets.reader.summaries("tk.run_id = ?", (status.run.id,))
        runs.append(run_view(status, workflow, tickets))
    counts = await services.agents.queue_counts()
    return {
        "runs": runs,
        "queue": {
            "counts": {s: counts[s] for s in OPEN_STATUSES if counts.get(s)},
            "next": queue_next(statuses),
        },
    }


def queue_next(statuses: list[RunStatus]) -> list[dict[str, Any]]:
    """Queued tasks of active runs, highest priority first: what launchers claim next."""
    queued = [
        task
        for status in statuses
        if status.run.status == "active"
        for phase in status.phases
        for task in phase.tasks
        if task.status == "queued"
    ]
    queued.sort(key=lambda t: -PRIORITY_VALUE[t.priority])
    return [{**_card(t), "run_id": t.run_id} for t in queued[:QUEUE_SHOWN]]


def run_view(
    status: RunStatus, workflow: Workflow, tickets: list[TicketSummary] | None = None
) -> dict[str, Any]:
    tasks = [task for phase in status.phases for task in phase.tasks]
    titles = {task.id: task.title for task in tasks}
    guardian = status.guardian
    notes = {note.agent_id: note for note in guardian.notes} if guardian else {}
    return {
        "run": status.run.model_dump(),
        "phases": [{"id": p.phase, "name": p.name, "counts": p.counts} for p in status.phases],
        "board": board_columns(workflow, tasks, tickets),
        "graph": task_graph(tasks),
        "agents": [
            {
                **agent.model_dump(include={"id", "task_id", "session_name", "started_at"}),
                "task_title": titles.get(agent.task_id, ""),
                "guardian": notes[agent.id].model_dump() if agent.id in notes else None,
            }
            for agent in status.agents
        ],
        "merges": {
            "queue": [m.model_dump() for m in status.merge_queue],
            "missing": [w.model_dump() for w in status.missing_work],
            "landings": [land.model_dump() for land in status.landings],
        },
        "steers": [s.model_dump() for s in guardian.steers] if guardian else [],
        "questions": [
            q.model_dump(include={"id", "task_id", "agent_id", "tool", "subject", "expires_at"})
            for q in status.questions
        ],
        "costs": [c.model_dump() for c in guardian.costs] if guardian else [],
        "cost": status.cost.model_dump(exclude={"agents", "tasks"}) if status.cost else None,
    }


def board_columns(
    workflow: Workflow, tasks: list[TaskSummary], tickets: list[TicketSummary] | None = None
) -> dict[str, Any]:
    """The kanban for a run: its tickets in the workflow's own columns when it has tickets,
    else its tasks by status, which every workflow has (a ticket run whose agents have not
    filed a ticket yet still has tasks to show, not four empty columns)."""
    if workflow.config.enable_tickets and tickets:
        return ticket_columns(workflow, tickets)
    return task_columns(tasks)


def ticket_columns(workflow: Workflow, tickets: list[TicketSummary]) -> dict[str, Any]:
    cards = [
        t.model_dump(include={"id", "title", "type", "priority", "status", "blocked", "resolved"})
        for t in tickets
    ]
    return {
        "kind": "tickets",
        "columns": [
            {"key": column, "title": column.replace("_", " ").capitalize(),
             "tasks": [c for c in cards if c["status"] == column]}
            for column in workflow.config.board.columns
        ],
    }  # fmt: skip


def task_columns(tasks: list[TaskSummary]) -> dict[str, Any]:
    return {
        "kind": "tasks",
        "columns": [
            {
                "key": key,
                "title": title,
                "tasks": [_card(t) for t in tasks if t.status in statuses],
            }
            for key, title, statuses in TASK_COLUMNS
        ],
    }


def _card(task: TaskSummary) -> dict[str, Any]:
    return task.model_dump(
        include={
            "id", "phase", "phase_name", "title", "priority", "status", "created_by", "merge_state"
        }
    )  # fmt: skip


def task_graph(tasks: list[TaskSummary]) -> dict[str, Any]:
    """Who spawned what: an edge from each task's parent to it.

    A discovery branch is a task created in an earlier phase than its parent's
    (an implementer finding something that needs analysis first): the workflow
    growing backwards, which the page highlights.
    """
    phase_of = {t.id: t.phase for t in tasks}
    nodes, edges = [], []
    for task in tasks:
        parent = task.parent_task_id if task.parent_task_id in phase_of else None
        discovery = parent is not None and task.phase < phase_of[parent]
        nodes.append({**_card(task), "parent": parent, "discovery": discovery})
        if parent is not None:
            edges.append({"from": parent, "to": task.id, "discovery": discovery})
        edges.extend(
            {"from": dep, "to": task.id, "dependency": True}
            for dep in task.depends_on
            if dep in phase_of
        )
    return {"nodes": nodes, "edges": edges}
