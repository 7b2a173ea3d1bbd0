"""A fixture run for the board: tasks in several statuses, a discovery branch, a Guardian note.

Built through the MCP tools of the real app (as the user, the launcher and the
agents would), so the board reads exactly what a live server holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

XSS_TITLE = "<img src=x onerror=alert(1)>"


@dataclass
class FixtureRun:
    run_id: str
    running: str  # phase 1, an agent on it with a Guardian note
    done: str  # phase 2, spawned by `running`
    discovery: str  # phase 1, spawned by `done` (phase 2): a discovery branch
    blocked: str  # phase 3, depends on `discovery`
    markup: str  # queued, its title is markup
    failed: str
    agent_id: str
    validator: str  # phase 2, the check that passed `done`
    markup_title: str = XSS_TITLE


async def _call(client, tool: str, args: dict) -> dict:
    async with client as session:
        result = await session.call_tool(tool, args)
    return result.structured_content  # type: ignore[no-any-return]


@pytest.fixture
async def fixture_run(heph) -> FixtureRun:
    started = await heph.start_run(goal="the parser crashes on empty input")
    run_id = started["run_id"]
    first = await heph.launch_agent()
    await _call(
        heph.ops(),
        "record_analysis",
        {
            "agent_id": first.agent_id, "judge": "heuristic", "state": "looping",
            "alignment": 0.3, "summary": "the same pytest failure four times",
            "steering": "Stop retrying the same fix; read the traceback.",
        },
    )  # fmt: skip
    fix = await _call(
        heph.client(first.token),
        "create_task",
        {
            "phase": "fix", "title": "Guard the tokenizer against an empty buffer",
            "description": "tokenize() indexes buf[0] without a length check",
            "priority": "critical",
        },
    )  # fmt: skip
    fixer = await heph.launch_agent()
    assert fixer.task_id == fix["id"]
    found = await _call(
        heph.client(fixer.token),
        "create_task",
        {
            "phase": "reproduce", "title": "Find which other commands read stdin the same way",
            "description": "grep for sys.stdin.read() callers", "priority": "low",
        },
    )  # fmt: skip
    await _call(
        heph.client(fixer.token),
        "update_task_status",
        {"status": "done", "summary": "length check added"},
    )
    await _call(heph.ops(), "report_agent_exit", {"agent_id": fixer.agent_id, "reason": "done"})
    validator = await heph.launch_agent()  # bug_fix validates its fix phase
    await _call(
        heph.client(validator.token),
        "give_validation_review",
        {"passed": True, "feedback": "the length check holds"},
    )
    await _call(heph.ops(), "report_agent_exit", {"agent_id": validator.agent_id, "reason": "done"})
    blocked = await _call(
        heph.user(),
        "create_task",
        {
            "run": run_id, "phase": "verify", "title": "Run the whole test suite on Python 3.13",
            "description": "after the survey", "depends_on": [found["id"]],
        },
    )  # fmt: skip
    markup = await _call(
        heph.user(),
        "create_task",
        {"run": run_id, "phase": "fix", "title": XSS_TITLE, "description": "markup as a title",
         "priority": "low"},
    )  # fmt: skip
    doomed = await _call(
        heph.user(),
        "create_task",
        {"run": run_id, "phase": "verify", "title": "Check the Windows build of the CLI",
         "description": "CI matrix", "priority": "high"},
    )  # fmt: skip
    loser = await heph.launch_agent()
    assert loser.task_id == doomed["id"]
    await _call(
        heph.client(loser.token),
        "update_task_status",
        {"status": "failed", "summary": "no Windows runner here"},
    )
    await _call(heph.ops(), "report_agent_exit", {"agent_id": loser.agent_id, "reason": "failed"})
    statuses = {found["status"], blocked["status"], markup["status"]}
    assert statuses == {"queued", "blocked"}, statuses
    return FixtureRun(
        run_id=run_id,
        running=first.task_id,
        done=fix["id"],
        discovery=found["id"],
        blocked=blocked["id"],
        markup=markup["id"],
        failed=doomed["id"],
        agent_id=first.agent_id,
        validator=validator.task_id,
    )
