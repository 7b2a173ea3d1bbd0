"""The tasks a validator agent is launched for: a check of one task, or of the run's result.

A validator is an ordinary task of kind `validation` or `result_validation`,
so it is claimed, launched, watched and retried like any other; only its
worktree (read-only, at the work's commit) and its way of reporting
(`give_validation_review`) differ. Its description carries everything it
judges by, so the brief needs nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiosqlite

from heph_mcp.records import Task
from heph_mcp.services.common import new_id, task_branch
from heph_mcp.store import query_one
from phases import Workflow

REVIEW_RULES = (
    "You are a validator. Your worktree holds that work at its last commit; it is"
    " read-only and nothing you change is kept. Inspect it, run its checks, and"
    " judge it against every criterion. Then call `give_validation_review(passed,"
    " feedback, evidence)` exactly once: feedback says what is wrong and how to fix"
    " it (or why it passes); evidence lists the commands you ran and what they showed."
)
DEFAULT_RESULT_CRITERIA = ["The result answers the run's goal, with evidence for each claim."]


def validation_task(workflow: Workflow, work: Mapping[str, Any], iteration: int) -> Task:
    """The check of a task whose agent just reported it done."""
    phase = workflow.phase(work["phase"])
    criteria = phase.validation.criteria or phase.done_definitions
    parts = [
        f"Check the work of task {work['id']} ({work['title']}), attempt {iteration} of its"
        f" validation. Its branch is {task_branch(work['run_id'], work['id'])}.",
        _section("The task", work["description"]),
        _section("Its done definition", work["done_definition"]),
        _section("What its agent reported", work["summary"] or ""),
        _section("Criteria", "\n".join(f"- {c}" for c in criteria)),
        _section("How to check", phase.validation.instructions),
        REVIEW_RULES,
    ]
    return _task(
        work["run_id"], phase.id, phase.name, f"Validate: {work['title']}"[:200], parts,
        kind="validation", validates=work["id"], parent=work["id"],
    )  # fmt: skip


def result_validation_task(
    workflow: Workflow,
    run_id: str,
    phase: int,
    result_id: str,
    markdown: str,
    evidence: list[str],
    submitted_from: str | None = None,
) -> Task:
    """The check of a submitted result against the workflow's result criteria.

    `submitted_from` is the branch of the work task that submitted it: the result speaks of
    what that worktree held (the run's branch, the work it built on, its own commits), which
    may not have merged yet, so the validator checks that branch rather than the run's."""
    criteria = workflow.config.result_criteria or DEFAULT_RESULT_CRITERIA
    where = (
        f"The worktree is {submitted_from}, the branch of the task that submitted it: the"
        " run's branch with the work that task built on and its own commits."
        if submitted_from
        else "The worktree is the run's branch with every merged task."
    )
    parts = [
        f"Check result {result_id} submitted for run {run_id}. {where}",
        _section("The result", markdown),
        _section("Its evidence", "\n".join(f"- {e}" for e in evidence)),
        _section("Result criteria", "\n".join(f"- {c}" for c in criteria)),
        REVIEW_RULES,
    ]
    name = workflow.phase(phase).name
    return _task(
        run_id, phase, name, "Validate the run's result", parts,
        kind="result_validation", result_id=result_id, base_ref=submitted_from,
    )  # fmt: skip


def _task(
    run_id: str, phase: int, phase_name: str, title: str, parts: list[str], **links: Any
) -> Task:
    return Task(
        id=new_id("t"),
        run_id=run_id,
        phase=phase,
        phase_name=phase_name,
        title=title,
        description="\n\n".join(p for p in parts if p),
        done_definition="give_validation_review has been called once.",
        priority="high",
        status="queued",
        created_by="hephaestus",
        parent_task_id=links.pop("parent", None),
        **links,
    )


def _section(title: str, text: str) -> str:
    return f"## {title}\n{text.strip()}" if text and text.strip() else ""


async def checks_so_far(db: aiosqlite.Connection, work_id: str) -> int:
    """How many validators this task has had: a new check's iteration, and the cap's count."""
    row = await query_one(db, "SELECT COUNT(*) FROM tasks WHERE validates = ?", (work_id,))
    return int(row[0]) if row else 0
