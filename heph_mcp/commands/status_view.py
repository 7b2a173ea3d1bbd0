"""Rich rendering of workflow_status for `heph status`."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from heph_mcp.commands.cost_view import cost_table
from heph_mcp.printable import printable_tree
from heph_mcp.records import PRIORITY_VALUE

STATUS_STYLE = {
    "queued": "cyan",
    "blocked": "yellow",
    "claimed": "blue",
    "running": "bold blue",
    "done": "green",
    "failed": "bold red",
    "cancelled": "dim",
    "duplicate": "dim",
    "validating": "magenta",
    "needs_work": "yellow",
}


BLOCKED = "blocked_on_dialog"
MERGE_STYLE = {
    "queued": "cyan",
    "verifying": "magenta",
    "merged": "green",
    "nothing": "dim",
    "conflict": "bold red",
    "verify_failed": "bold red",
}

GUARDIAN_STYLE = {
    BLOCKED: "bold red",
    "drifting": "bold yellow",
    "looping": "bold yellow",
    "stuck": "bold red",
    "finished_unreported": "yellow",
}


def render_status(status: dict[str, Any]) -> Group:
    """Agents' words (titles, summaries, steers) go in as Text, never read as markup, and
    made printable: an escape sequence in a title must not reach the terminal."""
    status = printable_tree(status)
    runs = status.get("runs", [])
    if not runs:
        return Group(Text("No runs yet. Start one from your MCP client with start_workflow."))
    parts: list[Any] = [_runs_table(runs), _queue_table(runs)]
    parts += [t for t in [cost_table(runs)] if t is not None]
    questions = [q for rs in runs for q in rs.get("questions") or []]
    if questions:
        parts.append(_questions_table(questions))
    for run_status in runs:
        parts.append(_tasks_table(run_status))
        if run_status.get("merge_queue") or run_status["run"].get("awaiting_merges"):
            parts.append(_merges_table(run_status))
        if run_status["agents"]:
            parts.append(_agents_table(run_status))
            parts += _blocked_lines(run_status)
        steers = (run_status.get("guardian") or {}).get("steers") or []
        if steers:
            parts.append(_steers_table(run_status["run"]["id"], steers))
    return Group(*parts)


def _runs_table(runs: list[dict[str, Any]]) -> Table:
    table = Table(title="Runs", expand=True)
    for column in ("run", "workflow", "status", "goal", "tasks by phase"):
        table.add_column(column)
    for rs in runs:
        run = rs["run"]
        phases = "  ".join(
            f"{p['phase']}.{p['name']}: " + ",".join(f"{n} {s}" for s, n in p["counts"].items())
            for p in rs["phases"]
            if p["counts"]
        )
        state = run["status"] + (" (awaiting merges)" if run.get("awaiting_merges") else "")
        state += " (paused)" * bool(run.get("paused")) + " (over budget)" * bool(
            run.get("over_budget")
        )
        table.add_row(run["id"], run["workflow"], state, Text(run["goal"][:60]), phases)
    return table


QUEUE_ROWS = 10


def _queue_table(runs: list[dict[str, Any]]) -> Table | Text:
    """Queued tasks of active runs, highest priority first (how launchers claim them)."""
    waiting = [
        (rs["run"]["id"], phase, task)
        for rs in runs
        if rs["run"]["status"] == "active"
        for phase in rs["phases"]
        for task in phase["tasks"]
        if task["status"] in ("queued", "blocked")
    ]
    if not waiting:
        return Text("Queue: empty", style="dim")
    waiting.sort(key=lambda w: (w[2]["status"] != "queued", -PRIORITY_VALUE[w[2]["priority"]]))
    queued = sum(1 for w in waiting if w[2]["status"] == "queued")
    title = f"Queue: {queued} queued, {len(waiting) - queued} blocked"
    if len(waiting) > QUEUE_ROWS:
        title += f" (first {QUEUE_ROWS} shown)"
    table = Table(title=title, expand=True)
    for column in ("run", "task", "status", "priority", "phase", "title"):
        table.add_column(column)
    for run_id, phase, task in waiting[:QUEUE_ROWS]:
        table.add_row(
            run_id,
            task["id"],
            Text(task["status"], style=STATUS_STYLE.get(task["status"], "")),
            task["priority"],
            f"{phase['phase']} {phase['name']}",
            Text(task["title"][:80]),
        )
    return table


def _questions_table(questions: list[dict[str, Any]]) -> Table:
    """Agents' requests their policy left to the user: each waits until answered or expired."""
    table = Table(
        title=f"Questions for you: {len(questions)} (answer_question over MCP; unanswered ones"
        " are denied when they expire)",
        expand=True,
        title_style="bold yellow",
    )
    for column in ("question", "run", "task", "tool", "asks", "expires"):
        table.add_column(column)
    for q in questions:
        table.add_row(
            q["id"], q["run_id"], q["task_id"], q["tool"],
            Text(q["subject"][:100]),  # an agent's words: never read as markup
            (q.get("expires_at") or "")[11:19],
        )  # fmt: skip
    return table


def _tasks_table(rs: dict[str, Any]) -> Table:
    table = Table(title=f"Tasks of {rs['run']['id']}", expand=True)
    for column in ("phase", "task", "status", "merge", "priority", "title"):
        table.add_column(column)
    for phase in rs["phases"]:
        for task in phase["tasks"]:
            style = STATUS_STYLE.get(task["status"], "")
            merge = task.get("merge_state") or ""
            table.add_row(
                f"{phase['phase']} {phase['name']}",
                task["id"],
                Text(task["status"], style=style),
                Text(merge, style=MERGE_STYLE.get(merge, "")),
                task["priority"],
                Text(task["title"][:80]),
            )
    return table


def _merges_table(rs: dict[str, Any]) -> Table:
    """The run's merge queue in order, and what its completion still waits for."""
    run = rs["run"]["id"]
    missing = rs.get("missing_work") or []
    title = f"Merge queue of {run} into heph/{run}"
    if rs["run"].get("awaiting_merges"):
        title += f" (the run completes when {len(missing)} missing tasks' work lands)"
    table = Table(title=title, expand=True)
    for column in ("#", "task", "merge", "queued at", "title"):
        table.add_column(column)
    for n, merge in enumerate(rs.get("merge_queue") or [], start=1):
        table.add_row(str(n), merge["task_id"], Text(merge["state"], style=MERGE_STYLE.get(
            merge["state"], "")), merge["queued_at"] or "", Text(merge["title"][:80]))  # fmt: skip
    queued = {m["task_id"] for m in rs.get("merge_queue") or []}
    for work in missing:
        if work["task_id"] not in queued:
            state = work["merge_state"] or "not queued yet"
            table.add_row("-", work["task_id"], Text(state, style=MERGE_STYLE.get(state, "")),
                          "", Text(f"missing: {work['title'][:70]}"))  # fmt: skip
    return table


def _agents_table(rs: dict[str, Any]) -> Table:
    table = Table(title=f"Agents of {rs['run']['id']}", expand=True)
    for column in ("agent", "task", "tmux session", "since", "guardian", "last summary"):
        table.add_column(column)
    notes = {n["agent_id"]: n for n in (rs.get("guardian") or {}).get("notes", [])}
    for agent in rs["agents"]:
        note = notes.get(agent["id"], {})
        state = f"{note['state']} ({note['alignment']:.1f})" if note else "-"
        if note.get("state") == BLOCKED:
            state = BLOCKED  # its alignment means nothing: it cannot work at all
        table.add_row(
            agent["id"],
            agent["task_id"],
            agent["session_name"],
            agent["started_at"] or "",
            Text(state, style=GUARDIAN_STYLE.get(note.get("state", ""), "")),
            Text((note.get("summary") or "")[:80]),
        )
    return table


def _blocked_lines(rs: dict[str, Any]) -> list[Text]:
    """Agents held by a dialog, each on a line of its own: only a person can answer one.

    A dialog that mirrors a question pending on the server (Claude Code shows it while its
    hook waits) is answered over MCP, not in the pane: say that instead.
    """
    notes = {n["agent_id"]: n for n in (rs.get("guardian") or {}).get("notes", [])}
    asked = {q["agent_id"]: q for q in rs.get("questions") or []}
    lines = []
    for agent in rs["agents"]:
        if notes.get(agent["id"], {}).get("state") != BLOCKED:
            continue
        question = asked.get(agent["id"])
        why = (
            f"waiting for your answer to {question['id']} ({question['tool']}): answer_question"
            if question
            else notes[agent["id"]]["summary"]
        )
        lines.append(
            Text(
                f"Needs you: agent {agent['id']} (tmux {agent['session_name']}) is {why}",
                style=GUARDIAN_STYLE[BLOCKED],
            )
        )
    return lines


def _steers_table(run_id: str, steers: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Recent steering in {run_id}", expand=True)
    for column in ("at", "agent", "from", "delivered", "guidance"):
        table.add_column(column)
    for steer in steers:
        table.add_row(
            steer["at"] or "",
            steer["agent_id"],
            steer["source"],
            steer["delivered_via"] or "pending",
            Text(steer["text"][:100]),
        )
    return table
