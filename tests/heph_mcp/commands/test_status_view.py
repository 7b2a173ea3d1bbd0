"""`heph status` rendering of a real workflow_status, with the Guardian's view."""

from __future__ import annotations

import io

from rich.console import Console

from heph_mcp.commands.status_view import render_status


async def test_the_status_view_shows_agents_with_their_guardian_state_and_recent_steers(heph):
    started = await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        await ops.call_tool(
            "record_analysis",
            {
                "agent_id": agent.agent_id, "judge": "heuristic", "state": "looping",
                "alignment": 0.3, "summary": "the same pytest failure four times",
                "steering": "Stop retrying the same fix.",
            },
        )  # fmt: skip
    async with heph.user() as user:
        status = await user.call_tool("workflow_status", {"run": started["run_id"]})
    console = Console(record=True, width=200)
    console.print(render_status(status.structured_content))
    text = console.export_text()
    assert agent.agent_id in text and "looping (0.3)" in text
    assert "the same pytest failure four times" in text
    assert "Recent steering" in text and "Stop retrying the same fix." in text
    assert "pending" in text


async def test_the_status_view_lists_the_queue_highest_priority_first(heph):
    started = await heph.start_run(goal="the parser crashes on empty input")
    await heph.launch_agent()  # the first task is running: not in the queue
    async with heph.user() as user:
        for title, priority in (
            ("Document the tokenizer's buffer contract", "low"),
            ("Add a fuzz target for the command parser", "critical"),
        ):
            await user.call_tool(
                "create_task",
                {"run": started["run_id"], "phase": "fix", "title": title,
                 "description": title, "priority": priority},
            )  # fmt: skip
        status = await user.call_tool("workflow_status", {})
    console = Console(record=True, width=200)
    console.print(render_status(status.structured_content))
    text = console.export_text()
    assert "Queue: 2 queued, 0 blocked" in text
    queue = text[text.index("Queue: 2 queued") : text.index("Tasks of")]
    assert queue.index("fuzz target") < queue.index("buffer contract")


async def test_an_agent_blocked_on_a_dialog_is_shown_with_the_dialogs_words(heph):
    started = await heph.start_run()
    agent = await heph.launch_agent()
    label = "blocked on dialog (trust): Is this a project you created or one you trust?"
    async with heph.ops() as ops:
        await ops.call_tool(
            "record_analysis",
            {"agent_id": agent.agent_id, "judge": "heuristic", "state": "blocked_on_dialog",
             "alignment": 0.5, "summary": label},
        )  # fmt: skip
    async with heph.user() as user:
        status = await user.call_tool("workflow_status", {"run": started["run_id"]})
    (note,) = status.structured_content["runs"][0]["guardian"]["notes"]
    assert (note["state"], note["summary"]) == ("blocked_on_dialog", label)
    console = Console(record=True, width=200)
    console.print(render_status(status.structured_content))
    text = " ".join(console.export_text().split())
    assert "blocked_on_dialog (0.5)" not in text and "blocked_on_dialog" in text
    assert f"Needs you: agent {agent.agent_id} (tmux " in text and label in text


async def test_the_status_view_shows_each_runs_merge_queue_in_order(heph):
    started = await heph.start_run(goal="the parser crashes on empty input")
    first = await heph.launch_agent()
    async with heph.client(first.token) as client:
        await client.call_tool("update_task_status", {"status": "done", "summary": "found"})
    async with heph.user() as user:
        await user.call_tool(
            "create_task",
            {"run": started["run_id"], "phase": "fix", "title": "Guard the tokenizer",
             "description": "buf[0] without a length check", "priority": "critical"},
        )  # fmt: skip
    second = await heph.launch_agent()
    async with heph.client(second.token) as client:
        await client.call_tool("update_task_status", {"status": "done", "summary": "guarded"})
    async with heph.ops() as ops:
        for task, state in ((first.task_id, "queued"), (second.task_id, "queued"),
                            (first.task_id, "verifying")):  # fmt: skip
            await ops.call_tool("record_merge", {"task_id": task, "state": state})
    async with heph.user() as user:
        status = await user.call_tool("workflow_status", {"run": started["run_id"]})
    console = Console(record=True, width=200)
    console.print(render_status(status.structured_content))
    text = console.export_text()
    queue = text[text.index(f"Merge queue of {started['run_id']}") :]
    assert queue.index(first.task_id) < queue.index(second.task_id)
    assert "verifying" in queue and "queued" in queue
    assert f"Merge queue 1. {first.task_id} [verifying]" in status.content[0].text


HOSTILE = "x\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b]0;owned\x07\x9b31m[link=http://evil]y[/link]"
RAW = ("\x1b]52", "\x1b[2J", "\x1b]0;", "\x07", "\x9b", "\x1b]8;")


async def test_terminal_escapes_in_agent_text_never_reach_the_terminal_raw(heph):
    """Text stored before the boundary refused escapes (or any text an agent wrote) is
    shown as visible escapes: no clipboard write, no screen clear, no window title."""
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        await ops.call_tool(
            "record_analysis",
            {"agent_id": agent.agent_id, "judge": "heuristic", "state": "drifting",
             "alignment": 0.5, "summary": "s", "steering": "steer"},
        )  # fmt: skip
    async with heph.user() as user:
        status = (await user.call_tool("workflow_status", {})).structured_content
    (run,) = status["runs"]
    run["run"]["goal"] = HOSTILE
    for phase in run["phases"]:
        for task in phase["tasks"]:
            task["title"] = HOSTILE
    for note in run["guardian"]["notes"]:
        note["summary"] = HOSTILE
    for steer in run["guardian"]["steers"]:
        steer["text"] = HOSTILE
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=300).print(render_status(status))
    shown = out.getvalue()
    assert not [seq for seq in RAW if seq in shown]
    assert "\\x1b]52;c;" in shown and "[link=http://evil]" in shown
