"""Validation agents and run results, through MCP as each role would call them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

CHECKED = {
    "name": "checked",
    "description": "work that a validator checks, ending in a result",
    "phases": [
        {
            "id": 1,
            "name": "build",
            "description": "build it",
            "validation": {
                "enabled": True,
                "criteria": ["hello.txt says hello"],
                "instructions": "cat hello.txt",
            },
        },
        {"id": 2, "name": "report", "description": "report it"},
    ],
    "config": {"has_result": True, "result_criteria": ["names the file"]},
}


async def call(client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    return result.structured_content  # type: ignore[no-any-return]


async def error_of(client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args, raise_on_error=False)
    assert result.is_error, result.structured_content
    return str(result.content[0].text)


async def start(heph, definition=CHECKED, goal="say hello") -> str:
    async with heph.user() as user:
        await call(user, "register_workflow", definition=definition)
        started = await call(user, "start_workflow", workflow=definition["name"], goal=goal)
    return str(started["run_id"])


async def report_done(heph, agent, summary="wrote hello.txt") -> dict[str, Any]:
    async with heph.client(agent.token) as client:
        return await call(client, "update_task_status", status="done", summary=summary)


async def review(heph, agent, passed: bool, feedback: str) -> dict[str, Any]:
    async with heph.client(agent.token) as client:
        return await call(
            client, "give_validation_review", passed=passed, feedback=feedback,
            evidence=["cat hello.txt -> hello"],
        )  # fmt: skip


def status_of(heph, task_id: str) -> str:
    with heph.db() as db:
        return str(db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()[0])


async def test_done_in_a_validated_phase_queues_a_validator_with_the_criteria(heph):
    await start(heph)
    worker = await heph.launch_agent()
    reported = await report_done(heph, worker)
    validator = await heph.launch_agent()
    async with heph.client(validator.token) as client:
        brief = (await client.get_prompt("task_brief", {})).messages[0].content.text
        task = await call(client, "get_task", task_id=validator.task_id)
    assert reported["status"] == "validating"
    assert task["kind"] == "validation" and task["validates"] == worker.task_id
    assert "hello.txt says hello" in brief and "cat hello.txt" in brief
    assert "give_validation_review" in brief and "wrote hello.txt" in brief


async def test_a_passing_review_makes_the_task_done(heph):
    await start(heph)
    worker = await heph.launch_agent()
    await report_done(heph, worker)
    validator = await heph.launch_agent()
    verdict = await review(heph, validator, True, "hello.txt says hello")
    assert verdict["task"]["status"] == "done" and "merged" in verdict["outcome"]
    assert status_of(heph, worker.task_id) == "done"
    assert status_of(heph, validator.task_id) == "done"


async def test_a_failed_review_sends_the_task_back_with_its_feedback_in_the_next_brief(heph):
    await start(heph)
    worker = await heph.launch_agent()
    await report_done(heph, worker)
    await review(heph, await heph.launch_agent(), False, "hello.txt is empty; write hello")
    assert status_of(heph, worker.task_id) == "needs_work"
    again = await heph.launch_agent()
    async with heph.client(again.token) as client:
        brief = (await client.get_prompt("task_brief", {})).messages[0].content.text
    assert again.task_id == worker.task_id
    assert "A validator sent this work back" in brief and "write hello" in brief
    await report_done(heph, again)
    second = await heph.launch_agent()
    async with heph.client(second.token) as client:
        second_brief = (await client.get_prompt("task_brief", {})).messages[0].content.text
    assert "attempt 2 of its validation" in second_brief


async def test_a_task_failing_every_allowed_review_fails_instead_of_looping(heph):
    await start(heph)
    limit = heph.settings.max_validation_iterations
    for _ in range(limit):
        worker = await heph.launch_agent()
        await report_done(heph, worker)
        verdict = await review(heph, await heph.launch_agent(), False, "still wrong")
    assert status_of(heph, worker.task_id) == "failed"
    assert f"failed validation {limit} times" in verdict["outcome"]


async def test_only_the_validator_may_review_and_only_once(heph):
    await start(heph)
    worker = await heph.launch_agent()
    before = heph.snapshot()
    async with heph.client(worker.token) as client:
        not_validator = await error_of(
            client, "give_validation_review", passed=True, feedback="looks fine to me"
        )
    async with heph.user() as user:
        user_error = await error_of(user, "give_validation_review", passed=True, feedback="ok")
    assert heph.snapshot() == before
    assert "validator agents only" in not_validator
    assert "give_validation_review" in user_error
    await report_done(heph, worker)
    validator = await heph.launch_agent()
    await review(heph, validator, True, "fine")
    async with heph.client(validator.token) as client:
        # The validator's token is revoked once its agent exits; until then a second verdict
        # is refused without changing anything.
        twice = await error_of(client, "give_validation_review", passed=False, feedback="no")
    assert "already given" in twice and status_of(heph, worker.task_id) == "done"


async def test_a_validator_cannot_report_through_update_task_status(heph):
    await start(heph)
    await report_done(heph, await heph.launch_agent())
    validator = await heph.launch_agent()
    before = heph.snapshot()
    async with heph.client(validator.token) as client:
        message = await error_of(client, "update_task_status", status="done", summary="ok")
    assert "give_validation_review" in message and heph.snapshot() == before


async def submit(heph, agent, markdown="The greeting is in hello.txt") -> dict[str, Any]:
    async with heph.client(agent.token) as client:
        return await call(client, "submit_result", markdown=markdown, evidence=["cat hello.txt"])


async def test_a_validated_result_completes_the_run_and_stops_all_its_work(heph):
    run = await start(heph)
    async with heph.user() as user:
        extra = await call(user, "create_task", run=run, phase=2, title="Tidy", description="x")
        blocked = await call(
            user, "create_task", run=run, phase=2, title="After tidy", description="y",
            depends_on=[extra["id"]],
        )  # fmt: skip
    submitter = await heph.launch_agent()  # the first task; it found the answer
    result = await submit(heph, submitter)
    checker = await heph.launch_agent()
    verdict = await review(heph, checker, True, "it names hello.txt")
    async with heph.user() as user:
        status = await call(user, "workflow_status", run=run)
    assert result["status"] == "pending"
    assert verdict["result"]["status"] == "validated" and "stop_all" in verdict["outcome"]
    assert status["runs"][0]["run"]["status"] == "completed"
    assert status["runs"][0]["results"][0]["status"] == "validated"
    open_tasks = [t for p in status["runs"][0]["phases"] for t in p["tasks"]
                  if t["status"] in ("queued", "blocked", "running", "claimed")]  # fmt: skip
    assert open_tasks == [] and status_of(heph, blocked["id"]) == "cancelled"
    assert status_of(heph, submitter.task_id) == "cancelled"


async def test_a_rejected_result_tells_its_submitter_and_the_run_goes_on(heph):
    run = await start(heph)
    submitter = await heph.launch_agent()
    await submit(heph, submitter)
    verdict = await review(heph, await heph.launch_agent(), False, "it names no file")
    async with heph.client(submitter.token) as client:
        guidance = (await client.get_prompt("guidance", {})).messages[0].content.text
        resubmitted = await submit(heph, submitter, "hello.txt holds the greeting")
    assert verdict["result"]["status"] == "rejected" and "submitter was told" in verdict["outcome"]
    assert "it names no file" in guidance and resubmitted["status"] == "pending"
    async with heph.user() as user:
        assert (await call(user, "workflow_status", run=run))["runs"][0]["run"]["status"] == (
            "active"
        )


async def test_keep_going_validates_the_result_and_leaves_the_run_active(heph):
    definition = {**CHECKED, "name": "onward", "config": {**CHECKED["config"],
                  "on_result_found": "keep_going"}}  # fmt: skip
    run = await start(heph, definition)
    await submit(heph, await heph.launch_agent())
    verdict = await review(heph, await heph.launch_agent(), True, "fine")
    assert "keeps going" in verdict["outcome"]
    with heph.db() as db:
        assert db.execute("SELECT status FROM runs WHERE id = ?", (run,)).fetchone()[0] == "active"


@pytest.mark.parametrize(
    "args,expected",
    [
        ({"markdown": "x"}, "produces no result"),
        ({"markdown": "   "}, "produces no result"),
    ],
)
async def test_a_result_for_a_workflow_without_results_is_refused(heph, args, expected):
    await heph.start_run("feature_development")
    agent = await heph.launch_agent()
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        assert expected in await error_of(client, "submit_result", **args)
    assert heph.snapshot() == before


async def test_a_second_result_waits_for_the_first_review(heph):
    await start(heph)
    agent = await heph.launch_agent()
    await submit(heph, agent)
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        message = await error_of(client, "submit_result", markdown="another answer")
    assert "still being validated" in message and heph.snapshot() == before


async def test_work_whose_validator_keeps_dying_fails_instead_of_waiting_forever(heph):
    await start(heph)
    worker = await heph.launch_agent()
    await report_done(heph, worker)
    for _ in range(heph.settings.max_attempts):
        validator = await heph.launch_agent()
        async with heph.ops() as ops:
            await call(ops, "report_agent_exit", agent_id=validator.agent_id, reason="crashed")
    assert status_of(heph, validator.task_id) == "failed"
    assert status_of(heph, worker.task_id) == "failed"
    with heph.db() as db:
        reason = db.execute("SELECT failure_reason FROM tasks WHERE id = ?", (worker.task_id,))
        assert "failed without a verdict: crashed" in reason.fetchone()[0]


async def test_work_under_validation_stays_there_when_its_launchers_lease_runs_out(heph):
    """Its agent has ended and its validator holds a lease of its own: a claim elsewhere must
    not send the work back to the queue to run again (a launcher away longer than its lease)."""
    await start(heph)
    worker = await heph.launch_agent(worker="w1")
    await report_done(heph, worker)
    async with heph.ops() as ops:
        await call(ops, "renew_leases", worker="w1", lease_seconds=0.001)
        with heph.db() as db:
            (lease,) = db.execute(
                "SELECT lease_expires_at FROM tasks WHERE id = ?", (worker.task_id,)
            ).fetchone()
        while time.time() <= lease:  # a bounded wait: the lease is a millisecond long
            await asyncio.sleep(0.001)
        claimed = await call(ops, "claim_task", worker="w2", slots=4)
    assert claimed["task"]["validates"] == worker.task_id
    assert status_of(heph, worker.task_id) == "validating"
