"""`heph status --task ID` and `heph status --agent ID`: the board's task detail and pane
tail on the terminal. Every text shown here was written by an agent (or its programs), so
it passes through `strip_terminal` and rich's Text (never markup) before it is printed."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from heph_mcp.printable import strip_terminal


def _text(value: Any, style: str = "") -> Text:
    return Text(strip_terminal(str(value)), style=style)


def render_task_detail(detail: dict[str, Any]) -> Group:
    task = detail["task"]
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    rows: list[tuple[str, Any, str]] = [
        ("Task", f"{task['id']} · {task['title']}", "bold"),
        ("Status", f"{task['status']} · phase {task['phase']}. {task['phase_name']}"
                   f" · {task['priority']} · attempts {task.get('attempts', 0)}", ""),
        ("Run", task["run_id"], ""),
        ("Agents", ", ".join(detail.get("agents") or []) or "none running", ""),
        ("Description", task.get("description"), ""),
        ("Summary", task.get("summary"), ""),
        ("Failure reason", task.get("failure_reason"), "red"),
        ("Sent back", task.get("feedback"), "yellow"),
        ("Merge", _merge(task), ""),
    ]  # fmt: skip
    for label, value, style in rows:
        if value:
            head.add_row(label, _text(value, style))
    parts: list[Any] = [head, _diffstat(detail.get("diffstat")), _guidance(detail["guidance"])]
    if detail.get("brief"):
        parts.append(Panel(_text(detail["brief"]), title="Brief", title_align="left"))
    return Group(*parts)


def _merge(task: dict[str, Any]) -> str | None:
    if not task.get("merge_state"):
        return None
    text = task["merge_state"].replace("_", " ")
    if task.get("merge_commit"):
        text += f" at {task['merge_commit'][:12]}"
    check = task.get("merge_check")
    if check:
        text += f" · check `{check['command']}` exited {check['exit_status']}"
    return text


def _diffstat(stat: dict[str, Any] | None) -> Any:
    if stat is None:
        return Text("Diff: not reported yet", style="dim")
    title = f"Diff against {stat['base']} ({stat['files']} files, +{stat['insertions']}" \
        f" -{stat['deletions']})"  # fmt: skip
    return Panel(_text(stat["text"].rstrip() or "no changes"), title=title, title_align="left")


def _guidance(items: list[dict[str, Any]]) -> Any:
    if not items:
        return Text("Guidance received: none", style="dim")
    table = Table(title="Guidance received", title_justify="left", expand=True)
    for column in ("at", "from", "delivered", "text"):
        table.add_column(column, overflow="fold")
    for g in items:
        delivered = g.get("delivered_via") or "pending"
        table.add_row(g.get("created_at") or "", _text(g["source"]), delivered, _text(g["text"]))
    return table


def render_agent_output(output: dict[str, Any]) -> Group:
    tail = output.get("tail")
    title = f"{output['agent_id']} on {output['task_id']} ({output['status']})"
    if tail is None:
        why = "it is not running" if output["status"] != "running" else "not reported yet"
        return Group(Text(f"{title}: no pane tail ({why})"))
    return Group(Panel(_text(tail["text"]), title=title, title_align="left"))
