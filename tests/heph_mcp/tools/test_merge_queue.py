"""The server's side of the merge queue: each merge's state, what a failed verify does, a run
that waits for its missing work, land requests and recorded lineage."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

CHECKED = {
    "name": "checked",
    "description": "Work whose merges must pass a check",
    "phases": [
        {"id": 1, "name": "plan", "description": "Plan."},
        {"id": 2, "name": "implement", "description": "Build.",
         "verify": {"command": "make check", "timeout": 60, "on_fail": "fix_task"}},
    ],
    "config": {"verify": "pytest -q", "has_result": True, "on_result_found": "stop_all"},
}  # fmt: skip


async def _call(client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args, raise_on_error=False)
    assert not result.is_error, result.content[0].text
    return result.structured_content  # type: ignore[return-value]


async def _error(client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args, raise_on_error=False)
    assert result.is_error
    return str(result.content[0].text)


@pytest.fixture
async def run(heph) -> str:
    async with heph.user() as user:
        await _call(user, "register_workflow", definition=CHECKED)
    return (await heph.start_run(workflow="checked", goal="build it"))["run_id"]


async def _done_task(heph, run: str, phase: int, title: str) -> str:
    """A task of `phase` that an agent reported done, as the launcher sees it before merging."""
    async with heph.user() as user:
        await _call(user, "create_task", run=run, phase=phase, title=title, description=title,
                    priority="critical")  # fmt: skip
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        await _call(client, "update_task_status", status="done", summary=f"{title} done")
    return agent.task_id


FAILED_CHECK = {
    "command": "pytest -q", "passed": False, "exit_code": 1, "seconds": 0.4,
    "output": "FAILED test_app.py::test_empty - IndexError", "log": "/x/verify.log",
}  # fmt: skip


async def test_the_queue_shows_each_merge_in_order_until_it_lands(heph, run):
    first = await _done_task(heph, run, 1, "Plan the parser")
    second = await _done_task(heph, run, 2, "Write the tokenizer")
    async with heph.ops() as ops:
        queued = await _call(ops, "record_merge", task_id=first, state="queued", worker="w1")
        await _call(ops, "record_merge", task_id=second, state="queued", worker="w1")
        await _call(ops, "record_merge", task_id=first, state="verifying")
        pending = await _call(ops, "pending_merges", worker="w1")
        async with heph.user() as user:
            during = (await _call(user, "workflow_status", run=run))["runs"][0]
        await _call(ops, "record_merge", task_id=first, state="merged", commit="a" * 40,
                    check={**FAILED_CHECK, "passed": True, "exit_code": 0})  # fmt: skip
        async with heph.user() as user:
            after = await _call(user, "workflow_status", run=run)
            task = await _call(user, "get_task", task_id=first)
    assert queued["verify"] == {"command": "pytest -q", "timeout": 600.0, "on_fail": "needs_work"}
    assert [(m["task_id"], m["state"]) for m in during["merge_queue"]] == [
        (first, "verifying"), (second, "queued")]  # fmt: skip
    assert [m["task_id"] for m in pending["merges"]] == [first, second]
    assert {w["task_id"] for w in during["missing_work"]} == {first, second}
    assert "Merge queue 1. " + first + " [verifying]" in during_text(during)
    assert [m["task_id"] for m in after["runs"][0]["merge_queue"]] == [second]
    assert task["merge_state"] == "merged" and task["merge_check"]["passed"] is True


def during_text(status: dict[str, Any]) -> str:
    from heph_mcp.brief import status_text
    from heph_mcp.records import RunStatus

    return status_text([RunStatus.model_validate(status)])


async def test_a_failed_verify_sends_the_task_back_with_the_output_in_its_brief(heph, run):
    task = await _done_task(heph, run, 1, "Plan the parser")
    async with heph.ops() as ops:
        await _call(ops, "record_merge", task_id=task, state="queued")
        sent = await _call(ops, "record_merge", task_id=task, state="verify_failed",
                           check=FAILED_CHECK)  # fmt: skip
        refused = await _error(ops, "record_merge", task_id=task, state="merged")
        again = await ops.call_tool("claim_task", {"worker": "w1", "slots": 4})
        brief = await ops.get_prompt("task_brief", {"task_id": task})
    text = brief.messages[0].content.text
    assert sent["sent_back"] is True and sent["fix_task"] is None
    assert again.structured_content["task"]["id"] == task  # needs_work is claimed again
    assert "## The merge check sent this work back" in text
    assert "`pytest -q`, which exited with status 1" in text and "IndexError" in text
    assert "only a new attempt (state queued)" in refused
    async with heph.ops() as ops:
        requeued = await _call(ops, "record_merge", task_id=task, state="queued")
    assert requeued["merge_state"] == "queued"


async def test_a_phase_that_says_fix_task_queues_a_fix_that_carries_the_work(heph, run):
    task = await _done_task(heph, run, 2, "Write the tokenizer")
    async with heph.ops() as ops:
        queued = await _call(ops, "record_merge", task_id=task, state="queued")
        failed = await _call(ops, "record_merge", task_id=task, state="verify_failed",
                             check={**FAILED_CHECK, "command": "make check"})  # fmt: skip
        kept = await _call(ops, "get_task", task_id=task)
    fix = failed["fix_task"]
    assert queued["verify"]["command"] == "make check"  # the phase's own check
    assert fix["title"] == "Make `make check` pass with: Write the tokenizer"
    assert (fix["carries"], fix["base_ref"]) == (task, f"heph/{run}-{task}")
    assert fix["priority"] == "high" and "IndexError" in fix["description"]
    assert kept["status"] == "done" and kept["merge_state"] == "verify_failed"


async def test_a_validated_result_waits_for_missing_work_and_completes_when_it_lands(heph, run):
    task = await _done_task(heph, run, 2, "Write the tokenizer")
    async with heph.ops() as ops:
        await _call(ops, "record_merge", task_id=task, state="queued")
        fix = (await _call(ops, "record_merge", task_id=task, state="verify_failed",
                           check=FAILED_CHECK))["fix_task"]  # fmt: skip
    await _finish(heph, await heph.launch_agent(), merge="nothing")  # the run's first task
    fixer = await heph.launch_agent()
    async with heph.user() as user:
        unrelated = await _call(user, "create_task", run=run, phase=1, title="Survey the CLI",
                                description="list the flags")  # fmt: skip
        await _call(user, "submit_result", run=run, markdown="The tokenizer is done")
    validator = await heph.launch_agent()
    async with heph.ops() as ops:
        brief = (await ops.get_prompt("task_brief", {"task_id": validator.task_id})).messages
    async with heph.client(validator.token) as client:
        review = await _call(client, "give_validation_review", passed=True, feedback="ok")
    waiting = await _status(heph, run)
    landed = await _finish(heph, fixer, merge="merged")
    done = await _status(heph, run)
    assert (fixer.task_id, validator.task_id != unrelated["id"]) == (fix["id"], True)
    text = brief[0].content.text
    assert f"- {task} Write the tokenizer: MISSING from the branch (verify failed)" in text
    assert "the run completes only once it is" in text
    assert f"the work of {task} is on heph/{run}" in review["outcome"]
    assert waiting["run"]["status"] == "active" and waiting["run"]["awaiting_merges"] is True
    statuses = {t["id"]: t["status"] for p in waiting["phases"] for t in p["tasks"]}
    assert statuses[unrelated["id"]] == "cancelled" and statuses[fix["id"]] == "running"
    assert [w["task_id"] for w in waiting["missing_work"]] == [task]
    assert landed["run_completed"] is True
    assert done["run"]["status"] == "completed" and done["missing_work"] == []


async def _finish(heph, agent, merge: str) -> dict[str, Any]:
    """The agent reports done and the launcher merges its branch."""
    async with heph.client(agent.token) as client:
        await _call(client, "update_task_status", status="done", summary="done")
    async with heph.ops() as ops:
        await _call(ops, "record_merge", task_id=agent.task_id, state="queued")
        return await _call(ops, "record_merge", task_id=agent.task_id, state=merge)


async def _status(heph, run: str) -> dict[str, Any]:
    async with heph.user() as user:
        return (await _call(user, "workflow_status", run=run))["runs"][0]


async def test_a_task_whose_check_keeps_failing_fails_instead_of_looping(heph, run):
    task = await _done_task(heph, run, 1, "Plan the parser")
    for attempt in range(heph.settings.max_validation_iterations):
        async with heph.ops() as ops:
            await _call(ops, "record_merge", task_id=task, state="queued")
            sent = await _call(ops, "record_merge", task_id=task, state="verify_failed",
                               check=FAILED_CHECK)  # fmt: skip
        if sent["sent_back"]:
            agent = await heph.launch_agent()
            async with heph.client(agent.token) as client:
                await _call(client, "update_task_status", status="done", summary=f"#{attempt}")
    async with heph.ops() as ops:
        final = await _call(ops, "get_task", task_id=task)
    assert final["status"] == "failed" and "failed its verify 3 times" in final["failure_reason"]


async def test_a_land_request_waits_for_the_launchers_answer(heph, run):
    async with heph.user() as user:
        asked = await _call(user, "land_run", run=run, into="main", wait_seconds=0)
        missing = await _error(user, "land_run", run="r-nope", wait_seconds=0)

        async def launcher_answers() -> None:
            async with heph.ops() as ops:
                for _ in range(100):  # bounded: until the second request is pending
                    claimed = (await _call(ops, "claim_land_requests", worker="w1"))["requests"]
                    if len(claimed) == 2:
                        break
                    await asyncio.sleep(0.05)
                for request in claimed:
                    await _call(ops, "record_land", request_id=request["id"], state="landed",
                                commit="c" * 40, message="landed heph/r on main")  # fmt: skip

        answering = asyncio.create_task(launcher_answers())
        answered = await _call(user, "land_run", run=run, wait_seconds=30)
        await answering
        status = (await _call(user, "workflow_status", run=run))["runs"][0]
    assert asked["state"] == "pending" and asked["into_branch"] == "main"
    assert "no run 'r-nope'" in missing
    assert answered["state"] == "landed" and answered["commit"] == "c" * 40
    assert [land["state"] for land in status["landings"]] == ["landed", "landed"]


async def test_recorded_lineage_shows_in_get_task(heph, run):
    task = await _done_task(heph, run, 1, "Plan the parser")
    lineage = {
        "start": "d" * 40,
        "holds": [{"branch": f"heph/{run}", "commit": "e" * 40, "task_id": None, "role": "run"},
                  {"branch": f"heph/{run}-t1", "commit": "f" * 40, "task_id": "t1",
                   "role": "creator"}],
        "notes": [],
    }  # fmt: skip
    async with heph.ops() as ops:
        await _call(ops, "record_lineage", task_id=task, lineage=lineage)
        shown = await _call(ops, "get_task", task_id=task)
        bad = await _error(ops, "record_lineage", task_id=task,
                           lineage={**lineage, "start": "not a sha"})  # fmt: skip
    assert shown["lineage"] == lineage
    assert "start" in bad


async def test_a_waiting_run_completes_when_its_missing_work_is_abandoned(heph, run):
    """Work sent back by its check and then cancelled is no longer owed; no merge will say so,
    so the Conductor's next look completes the run."""
    await _finish(heph, await heph.launch_agent(), merge="nothing")  # the run's first task
    task = await _done_task(heph, run, 1, "Plan the parser")
    async with heph.ops() as ops:
        await _call(ops, "record_merge", task_id=task, state="queued")
        await _call(ops, "record_merge", task_id=task, state="verify_failed", check=FAILED_CHECK)
    second_attempt = await heph.launch_agent()
    async with heph.user() as user:
        await _call(user, "submit_result", run=run, markdown="The plan is done")
    validator = await heph.launch_agent()
    async with heph.client(validator.token) as client:
        await _call(client, "give_validation_review", passed=True, feedback="ok")
    async with heph.ops() as ops:
        before = await _call(ops, "diagnose_stalled_runs")
        waiting = await _status(heph, run)
        await _call(ops, "cancel_task", task_id=task, reason="the user dropped it")
        after = await _call(ops, "diagnose_stalled_runs")
    assert second_attempt.task_id == task
    assert waiting["run"]["awaiting_merges"] and waiting["missing_work"][0]["task_id"] == task
    assert before["created"] == [] and after["created"] == []
    assert (await _status(heph, run))["run"]["status"] == "completed"


async def test_the_late_exit_of_an_agent_whose_task_was_sent_back_is_no_verdict_on_its_retry(
    heph, run
):
    async with heph.user() as user:
        await _call(user, "create_task", run=run, phase=1, title="Plan the parser",
                    description="plan", priority="critical")  # fmt: skip
    first = await heph.launch_agent()
    async with heph.client(first.token) as client:
        await _call(client, "update_task_status", status="done", summary="planned")
    async with heph.ops() as ops:
        await _call(ops, "record_merge", task_id=first.task_id, state="queued")
        await _call(ops, "record_merge", task_id=first.task_id, state="verify_failed",
                    check=FAILED_CHECK)  # fmt: skip
    second = await heph.launch_agent()  # the retry starts before the first exit is reported
    async with heph.ops() as ops:
        exited = await _call(ops, "report_agent_exit", agent_id=first.agent_id, reason="finished")
        task = await _call(ops, "get_task", task_id=first.task_id)
    assert second.task_id == first.task_id
    assert exited["task_status"] == "running" and exited["retried"] is False
    assert (task["status"], task["attempts"], task["failure_reason"]) == ("running", 2, None)


async def test_a_merge_outcome_in_a_run_cancelled_meanwhile_is_recorded_whole(heph, run):
    """The outcome and what it calls for are one change: a run that can take no new task gets
    the outcome alone, never an error after the outcome was stored."""
    conflicted = await _done_task(heph, run, 2, "Write the tokenizer")
    failing = await _done_task(heph, run, 2, "Write the parser")
    async with heph.ops() as ops:
        for task in (conflicted, failing):
            await _call(ops, "record_merge", task_id=task, state="queued", worker="w1")
        async with heph.user() as user:
            await _call(user, "cancel_workflow", run=run)
        conflict = await _call(ops, "record_merge", task_id=conflicted, state="conflict",
                               conflicts=["src/app.py"])  # fmt: skip
        failed = await _call(ops, "record_merge", task_id=failing, state="verify_failed",
                             check={**FAILED_CHECK, "command": "make check"})  # fmt: skip
        pending = await _call(ops, "pending_merges", worker="w1")
    with heph.db() as db:
        titles = [r[0] for r in db.execute("SELECT title FROM tasks WHERE run_id = ?", (run,))]
        states = dict(db.execute("SELECT id, merge_state FROM tasks WHERE run_id = ?", (run,)))
    assert conflict["resolve_task"] is None and failed["fix_task"] is None
    assert (states[conflicted], states[failing]) == ("conflict", "verify_failed")
    assert pending["merges"] == []
    assert not [t for t in titles if t.startswith(("Resolve merge conflict", "Make `"))]
