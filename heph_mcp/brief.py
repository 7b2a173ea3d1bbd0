"""Text an agent reads: its phase's instructions and its whole task brief.

Written for a model: short sections, the rules that matter first, and the
exact tool names it will see in Claude Code (`mcp__hephaestus__<tool>`).
"""

from __future__ import annotations

from heph_mcp.merge_records import WorkOnBranch
from heph_mcp.records import Run, RunStatus, Task
from heph_mcp.services.memories import MemoryHit
from phases import Phase, Workflow

TOOL_GUIDE = """\
## How to work with Hephaestus
You are one agent of a swarm. Your identity, run and task come from your token.
- `get_task` / `get_tasks` show work in your run; `get_agent_status` shows who is doing what.
- `find_memories(query)` searches what other agents learned; check it before digging.
  `save_memory(content, type)` shares a discovery, decision, error_fix, warning or
  codebase_knowledge the moment you have it.
- `create_task(phase, title, description, ...)` adds work to ANY phase of this run
  when you discover something worth doing (a new bug, a missing test, a follow-up).
  Do not do that work yourself if it is outside your task: create the task.
  If the answer says status "duplicate", that work already exists (see duplicate_of).
- When your task is finished, call `update_task_status(status="done", summary=...)`
  with what you did and how it was checked (commits, files, commands). If you cannot
  finish, call it with status="failed" and say why. Do this exactly once, last.
- Stay inside your working directory; commit your changes to your branch."""

TICKET_GUIDE = """\
## Tickets
This run tracks its work as tickets on a board with the columns {columns}.
- `search_tickets(query)` before `create_ticket(title, description, type, blocked_by=[...])`:
  the problem may already have a ticket. Tie work to a ticket with
  `create_task(..., ticket_id=...)`; it waits as blocked until the ticket's blockers resolve.
- `get_ticket`, `list_tickets`, `add_ticket_comment`, `change_ticket_status(ticket_id, status)`.
- `resolve_ticket(ticket_id, resolution)` when its work is complete; a ticket also resolves
  by itself when its last open task is reported done."""

RESULT_GUIDE = """\
## This run ends with a result
When the run's goal is reached and checked, submit its answer once with
`submit_result(markdown, evidence)`: the answer itself (what was found or made, and how to
use it) and, as evidence, the commands you ran with what they showed. A validator checks it
against these criteria, and when it passes the run is complete{stop}:
{criteria}
Submit only what you have verified; a rejected result comes back to you as guidance."""

STOP_ALL = ", every other agent of the run stops and its open tasks are cancelled"


VALIDATOR_GUIDE = """\
## How to work with Hephaestus
You are a validator in a swarm; your identity and task come from your token.
- `get_task(task_id)` reads the task you check; `find_memories(query)` what the swarm learned.
- Judge only; do not fix anything yourself. Your worktree is read-only.
- Finish with `give_validation_review(passed, feedback, evidence)`, exactly once, last.
  Do not call update_task_status: the review is your report."""


def phase_instructions(workflow: Workflow, phase: Phase) -> str:
    parts = [
        f"# Phase {phase.id} of {len(workflow.phases)}: {phase.name}",
        f"Workflow: {workflow.name}: {workflow.description}",
        "",
        phase.description.strip(),
    ]
    parts += _section("Done when", phase.done_definitions)
    parts += _section("Outputs", phase.outputs)
    parts += _section("Next steps", phase.next_steps)
    if phase.additional_notes.strip():
        parts += ["", "## Notes", phase.additional_notes.strip()]
    if phase.validation.enabled:
        parts += _section("A validator will check", phase.validation.criteria)
    verify = workflow.verify_for(phase.id)
    if verify is not None:
        parts += [
            "",
            "## Merge check",
            f"Your branch lands on the run's branch only if"
            f" `{verify.command}` passes on the merged tree; run it before you report done.",
        ]
    if phase.working_directory:
        parts += ["", f"Work in: {phase.working_directory}"]
    parts += ["", "## Phases of this workflow"]
    parts += [f"{p.id}. {p.name}: {_first_line(p.description)}" for p in workflow.phases]
    return "\n".join(parts)


def task_brief(
    workflow: Workflow,
    task: Task,
    goal: str,
    memories: list[MemoryHit] | None = None,
    work: list[WorkOnBranch] | None = None,
) -> str:
    """The whole brief; `work` (for a result validator) is every done task's work on the
    run's branch or not."""
    phase = workflow.phase(task.phase)
    parts = [
        f"# Your task: {task.title}",
        f"Task id: {task.id} · run {task.run_id} · phase {phase.id} ({phase.name})"
        f" · priority {task.priority}",
        f"Run goal: {goal}",
        *([f"Ticket: {task.ticket_id} (get_ticket shows its story)"] if task.ticket_id else []),
        "",
        "## Description",
        task.description.strip(),
    ]
    if task.done_definition.strip():
        parts += ["", "## Done definition for this task", task.done_definition.strip()]
    if task.kind == "work" and task.feedback:
        who = "The merge check" if task.feedback_from == "verify" else "A validator"
        parts += ["", f"## {who} sent this work back", task.feedback.strip(), "",
                  "Your branch already holds the earlier work (see `git log`). Fix what the"
                  " feedback says, commit, and report done again."]  # fmt: skip
    elif task.failure_reason:
        parts += ["", "## A previous attempt ended early", task.failure_reason]
    if work is not None:
        parts += ["", *work_section(task.run_id, work)]
    if memories:
        parts += ["", "## What the swarm already knows (shared memory, most relevant first)"]
        parts += [f"- [{m.memory.type}] {m.memory.content.strip()}" for m in memories]
    if task.kind == "work":
        parts += ["", phase_instructions(workflow, phase), "", TOOL_GUIDE]
    else:
        parts += ["", VALIDATOR_GUIDE]
    if workflow.config.enable_tickets and task.kind == "work":
        columns = ", ".join(workflow.config.board.columns)
        parts += ["", TICKET_GUIDE.format(columns=columns)]
    if workflow.config.has_result and task.kind == "work":
        parts += ["", result_guide(workflow)]
    return "\n".join(parts)


def result_guide(workflow: Workflow) -> str:
    """How a workflow with a result ends: agents must know to submit it, and against what."""
    config = workflow.config
    criteria = config.result_criteria or ["The result answers the run's goal, with evidence."]
    stop = STOP_ALL if config.on_result_found == "stop_all" else ""
    return RESULT_GUIDE.format(stop=stop, criteria="\n".join(f"- {c}" for c in criteria))


def work_section(run_id: str, work: list[WorkOnBranch]) -> list[str]:
    """Every done task and whether its work is on the run's branch: the result is judged on
    that branch, and the run completes only once nothing is missing from it."""
    lines = [f"## Done work and heph/{run_id}"]
    lines += [f"- {w.task_id} {w.title}: {_landing(w)}" for w in work] or ["- no done work yet"]
    missing = sum(1 for w in work if not w.landed)
    lines.append(
        f"{missing} done tasks' work is not on heph/{run_id} yet; the run completes only once it"
        " is."
        if missing
        else f"Every done task's work is on heph/{run_id}."
    )
    return lines


def _landing(work: WorkOnBranch) -> str:
    if work.landed:
        return "on the branch" + (f" (carried by {work.carried_by})" if work.carried_by else "")
    state = work.merge_state or "not merged yet"
    return f"MISSING from the branch ({state.replace('_', ' ')})"


def status_text(runs: list[RunStatus]) -> str:
    if not runs:
        return "No runs yet. Start one with start_workflow(workflow, goal)."
    lines: list[str] = []
    for status in runs:
        run = status.run
        waiting = " (completes when its missing work lands)" if run.awaiting_merges else ""
        flags = "".join(f" ({f})" for f, on in _flags(run) if on)
        lines.append(
            f"Run {run.id} [{run.status}]{flags}{waiting} {run.workflow}: {run.goal[:120]}"
        )
        if status.cost is not None and (status.cost.total or status.cost.budget_used is not None):
            lines.append(f"  Cost: {status.cost.line()}")
        for phase in status.phases:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(phase.counts.items())) or "no tasks"
            lines.append(f"  Phase {phase.phase} {phase.name}: {counts}")
            lines += [f"    - {t.id} [{t.status}] {t.title[:100]}" for t in phase.tasks]
        notes = {n.agent_id: n for n in (status.guardian.notes if status.guardian else [])}
        spent = (
            {a.agent_id: a for a in status.cost.agents if a.source == "agent"}
            if status.cost
            else {}
        )
        for agent in status.agents:
            lines.append(f"  Agent {agent.id} on {agent.task_id} in tmux {agent.session_name}")
            if agent.id in spent:
                lines.append(
                    f"    Used {spent[agent.id].total:,} tokens, ~${spent[agent.id].usd:.2f}"
                )
            if agent.id in notes:
                note = notes[agent.id]
                lines.append(
                    f"    Guardian: {note.state} ({note.alignment:.1f}) {note.summary[:100]}"
                )
        for steer in status.guardian.steers if status.guardian else []:
            lines.append(f"  Steered {steer.agent_id}: {steer.text[:100]}")
        for question in status.questions:
            lines.append(
                f"  Question {question.id} from {question.agent_id} ({question.tool}):"
                f" {question.subject[:100]} (answer_question before {question.expires_at})"
            )
        for n, merge in enumerate(status.merge_queue, start=1):
            lines.append(f"  Merge queue {n}. {merge.task_id} [{merge.state}] {merge.title[:80]}")
        for work in status.missing_work:
            lines.append(f"  Missing from heph/{run.id}: {work.task_id} ({work.merge_state})")
        for land in status.landings[:1]:
            lines.append(f"  Land [{land.state}] {land.message[:100]}")
        for result in status.results:
            lines.append(f"  Result {result.id} [{result.status}]: {_first_line(result.markdown)}")
    return "\n".join(lines)


def _flags(run: Run) -> list[tuple[str, bool]]:
    return [
        ("paused: nothing new launches", run.paused),
        ("over budget: nothing new launches", run.over_budget),
    ]


def _section(title: str, items: list[str]) -> list[str]:
    return ["", f"## {title}", *[f"- {item}" for item in items]] if items else []


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
