"""`heph up`'s event log: every moment the issue names becomes one line with run, task and
title, read from the events the real server wrote while the roles did their work."""

from __future__ import annotations

from rich.console import Console
from ticketkit import call

from heph_mcp.commands.event_log import render_line
from heph_mcp.services.event_feed import EventFeed, EventLine
from heph_mcp.store import Store


async def test_each_moment_of_a_run_is_one_line_with_its_run_task_and_title(heph):
    started = await heph.start_run(goal="the parser crashes on empty input")
    run, first = started["run_id"], started["task_id"]
    reproducer = await heph.launch_agent()
    async with heph.ops() as ops:
        await call(
            ops,
            "record_analysis",
            agent_id=reproducer.agent_id,
            judge="heuristic",
            state="looping",
            alignment=0.3,
            summary="loops",
            steering="Stop looping.",
        )
    async with heph.client(reproducer.token) as own:
        fix = await call(
            own,
            "create_task",
            phase="fix",
            title="Guard the empty buffer",
            description="tokenize() indexes buf[0]",
            priority="critical",
        )
        await call(own, "update_task_status", status="done", summary="reproduced")
    fixer = await heph.launch_agent()
    async with heph.client(fixer.token) as own:
        await call(own, "update_task_status", status="done", summary="length check added")
    validator = await heph.launch_agent()
    async with heph.client(validator.token) as own:
        await call(own, "give_validation_review", passed=True, feedback="holds")
    async with heph.ops() as ops:
        await call(ops, "record_merge", task_id=fix["id"], state="queued")
        await call(ops, "record_merge", task_id=fix["id"], state="merged", commit="c" * 40)
        await call(ops, "record_merge", task_id=first, state="queued")
        await call(ops, "record_merge", task_id=first, state="conflict", conflicts=["a.py"])
        await call(ops, "report_agent_exit", agent_id=validator.agent_id, reason="done")
    doomed = await heph.launch_agent()  # the resolve task the conflict queued
    async with heph.client(doomed.token) as own:
        await call(own, "update_task_status", status="failed", summary="cannot resolve")

    store = await Store.open(heph.settings.db_path)
    try:
        _, lines = await EventFeed(store).since(0)
    finally:
        await store.close()
    seen = [(line.word, line.task_id, line.title) for line in lines if line.run_id == run]
    title = seen[0][2]  # the run's first task, titled by the workflow
    assert title
    expected = [
        ("queued", first, title),
        ("started", first, title),
        ("steered", first, title),
        ("queued", fix["id"], "Guard the empty buffer"),
        ("done", first, title),
        ("started", fix["id"], "Guard the empty buffer"),
        ("done", fix["id"], "Guard the empty buffer"),
    ]
    assert seen[: len(expected)] == expected
    words = [word for word, _, _ in seen]
    assert ("validated", fix["id"], "Guard the empty buffer") in seen
    assert ("merged", fix["id"], "Guard the empty buffer") in seen
    assert ("conflict", first, title) in seen
    assert words[-1] == "failed" and seen[-1][1] == doomed.task_id
    rendered = Console(record=True, width=200)
    rendered.print(render_line(lines[-1]))
    assert f"failed    {run} {doomed.task_id} Resolve merge conflict" in rendered.export_text()


def test_a_line_never_carries_an_agents_escape_sequences_to_the_terminal():
    line = EventLine(id=1, at=0.0, word="failed", run_id="r1", task_id="t1",
                     title="\x1b]0;owned\x07Fix \x1b[31mit", note="\x1b[2Jgave up")  # fmt: skip
    console = Console(record=True, width=200, force_terminal=True)
    console.print(render_line(line))
    shown = console.export_text(styles=False)
    assert "\x1b" not in shown and "\x07" not in shown  # nothing raw reaches the terminal
    assert r"\x1b]0;owned\x07Fix \x1b[31mit (\x1b[2Jgave up)" in shown  # shown as written


async def test_the_operators_own_controls_show_in_the_log_with_what_changed(heph):
    started = await heph.start_run(goal="the parser crashes on empty input")
    run, first = started["run_id"], started["task_id"]
    async with heph.user() as user:
        await call(user, "set_task_priority", task_id=first, priority="critical")
        await call(user, "pause_run", run=run)
        await call(user, "resume_run", run=run)
        await call(user, "cancel_one_task", task_id=first, reason="wrong goal")
        await call(user, "retry_task", task_id=first, reason="goal fixed")

    store = await Store.open(heph.settings.db_path)
    try:
        _, lines = await EventFeed(store).since(0)
    finally:
        await store.close()
    seen = [(line.word, line.note) for line in lines if line.run_id == run]
    assert seen[1:] == [
        ("priority", "critical"),
        ("paused", ""),
        ("resumed", ""),
        ("cancelled", "wrong goal"),
        ("retried", "by the user: goal fixed"),
        ("queued", ""),  # its dependencies are done, so it is queued at once
    ]


async def test_a_runs_result_and_its_ending_show_as_lines_naming_the_run(heph):
    goal = "the parser crashes on empty input"
    started = await heph.start_run(goal=goal)
    run, first = started["run_id"], started["task_id"]
    finder = await heph.launch_agent()
    async with heph.client(finder.token) as own:
        await call(own, "submit_result", markdown="a guessed cause", evidence=["none"])
    checker = await heph.launch_agent()
    async with heph.client(checker.token) as own:
        await call(own, "give_validation_review", passed=False, feedback="no evidence")
    async with heph.client(finder.token) as own:
        await call(own, "submit_result", markdown="tokenize() indexes buf[0]", evidence=["ok"])
    checker = await heph.launch_agent()
    async with heph.client(checker.token) as own:
        await call(own, "give_validation_review", passed=True, feedback="reproduced")

    _, lines = await _lines(heph)
    seen = [(line.word, line.task_id, line.title, line.note) for line in lines
            if line.run_id == run and line.word in ("result", "rejected", "completed")]  # fmt: skip
    title = next(line.title for line in lines if line.task_id == first)
    assert seen == [
        ("result", first, title, "submitted; its check is queued"),
        ("rejected", "", goal, "the run's result: no evidence"),
        ("result", first, title, "submitted; its check is queued"),
        ("completed", "", goal, "1 open task cancelled"),
    ]
    assert lines[-1].word == "completed"  # after the check that led to it
    rendered = Console(record=True, width=200)
    rendered.print(render_line(lines[-1]))
    assert f"completed {run} {goal} (1 open task cancelled)" in rendered.export_text()


async def _lines(heph) -> tuple[int, list[EventLine]]:
    store = await Store.open(heph.settings.db_path)
    try:
        return await EventFeed(store).since(0)
    finally:
        await store.close()
