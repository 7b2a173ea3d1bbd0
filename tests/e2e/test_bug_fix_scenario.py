"""The whole quick start, end to end: a user chat seeds a bug_fix run that `heph up` carries out.

Everything is real except the model: `heph up` (server, launcher and
Guardian in one process), real `claude` sessions in tmux in git worktrees,
the user's own `claude -p` chat connected with the `claude mcp add` line.
The scripted model (the test double for the LLM) answers each agent from the
title in its brief: the fix agent edits, commits and branches the workflow
(a phase-3 check and a phase-1 discovery), a validator passes the fix, the
discovery agent goes idle without reporting until the Guardian steers it, and
the check agent runs the fixed code, then submits the run's result, whose
validator passes it: the run completes by itself, as a bug_fix run does.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from claudekit import add_hephaestus, claude
from modelkit import in_workdir, last_user_text, task_title, text, tool_use, turns
from swarmkit import git

from heph_mcp.client import HephClient, merges_settled
from heph_mcp.identity import local_token
from testkit import ServerProcess, artifacts_dir, save_artifacts

GOAL = "the CLI crashes on empty input"
BUGGY = "def first_word(text):\n    return text.split()[0]\n"
FIXED = '    words = text.split()\n    return words[0] if words else ""\n'
FIX_TITLE = "Guard first_word against empty input"
CHECK_TITLE = "Check the CLI with empty and blank stdin"
DISCOVERY_TITLE = "Investigate slow startup with a large config file"
RESULT_TITLE = "Validate the run's result"
STEERED = "reported after the Guardian's reminder"
# A quick Guardian with the no-LLM judge: the scripted model answers agents only.
UP_ENV = {
    "HEPH_GUARDIAN_JUDGE": "heuristic",
    "HEPH_GUARDIAN_INTERVAL": "2",
    "HEPH_WATCH_INTERVAL": "0.5",
    "HEPH_START_TIMEOUT": "90",
}


def mcp(tool: str, **arguments: Any) -> dict[str, Any]:
    return tool_use(f"mcp__hephaestus__{tool}", arguments)


def done(summary: str) -> dict[str, Any]:
    return mcp("update_task_status", status="done", summary=summary)


PLANS: dict[str, list[dict[str, Any]]] = {
    f"Reproduce: {GOAL}": [
        mcp("create_task", phase=2, title=FIX_TITLE,
            description="first_word('') raises IndexError in app.py; return '' instead."),
        done("reproduced: first_word('') raises IndexError; fix task created"),
    ],
    FIX_TITLE: [
        tool_use("Read", {"file_path": "{cwd}/app.py"}),
        tool_use("Edit", {"file_path": "{cwd}/app.py",
                          "old_string": "    return text.split()[0]\n", "new_string": FIXED}),
        tool_use("Bash", {"command": "git add app.py && git commit -q -m 'guard first_word'"}),
        mcp("create_task", phase=3, title=CHECK_TITLE,
            description="Pipe empty and blank input into the CLI; it must print nothing."),
        mcp("create_task", phase=1, title=DISCOVERY_TITLE,
            description="Startup takes seconds when hephaestus.toml is large; find out why."),
        done("guarded first_word; committed"),
    ],
    f"Validate: {FIX_TITLE}": [
        tool_use("Read", {"file_path": "{cwd}/app.py"}),
        mcp("give_validation_review", passed=True, feedback="first_word('') now returns ''",
            evidence=["Read app.py: the guard returns '' for no words"]),
    ],
    DISCOVERY_TITLE: [text("I think the analysis is complete.")],  # idle, unreported
    RESULT_TITLE: [
        tool_use("Read", {"file_path": "{cwd}/app.py"}),
        mcp("give_validation_review", passed=True, feedback="app.py guards empty input",
            evidence=["Read app.py: first_word returns '' when there are no words"]),
    ],
}  # fmt: skip
CHECKED = "first_word('') == '' and first_word(' ') == ''"


def check(body: dict[str, Any], guided: list[str]) -> dict[str, Any]:
    """The checker runs the fixed code, waits (running commands, as agents do) until the
    discovery agent has been steered, so stop_all cannot end it first, then submits."""
    if turns(body) == 0:
        return tool_use("Bash", {"command": f"python3 -B -c \"from app import first_word; "
                                            f"assert {CHECKED}; print('ok')\""})  # fmt: skip
    if DISCOVERY_TITLE not in guided:
        return tool_use("Bash", {"command": "sleep 1"})
    if not called(body, "submit_result"):
        return mcp("submit_result", markdown=f"Fixed: {CHECKED} on the fix's branch.",
                   evidence=[f"python3 -c 'assert {CHECKED}' printed ok"])  # fmt: skip
    return done("empty and blank input handled; result submitted")


def called(body: dict[str, Any], tool: str) -> bool:
    return any(block.get("name") == f"mcp__hephaestus__{tool}"
               for m in body["messages"] if m["role"] == "assistant"
               for block in m["content"] if isinstance(block, dict))  # fmt: skip


def chat(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The user's own Claude Code: asked to start the workflow, it calls start_workflow."""
    if "tool_result" in str(body["messages"][-1]["content"]):
        return [text("Started the bug_fix workflow.")]
    return [mcp("start_workflow", workflow="bug_fix", goal=GOAL)]


def scripted_model(guided: list[str]) -> Any:
    """The script; `guided` collects the title of each agent that was shown guidance."""

    def script(body: dict[str, Any]) -> list[dict[str, Any]]:
        title = task_title(body)
        if not title:
            return chat(body)
        if "Guidance from Hephaestus" in last_user_text(body):
            guided.append(title)
            return [done(STEERED)]
        if title == CHECK_TITLE:
            return [check(body, guided)]
        plan = PLANS.get(title, [])
        step = turns(body)
        return [in_workdir(plan[step], body)] if step < len(plan) else [text("Done.")]

    return script


@pytest.fixture
def heph_up(project: Path, agents_model, monkeypatch, request):
    (project / "app.py").write_text(BUGGY)
    git(project, "add", "app.py")
    git(project, "commit", "-q", "-m", "the buggy app")
    socket = f"heph-e2e-{uuid.uuid4().hex[:8]}"
    for key, value in UP_ENV.items():
        monkeypatch.setenv(key, value)
    up = ServerProcess(project, command="up", extra=["--tmux-socket", socket]).start(timeout=120)
    try:
        yield up
    finally:
        up.stop()
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
        keep_artifacts(request, project, up, agents_model)


def keep_artifacts(request, project: Path, up: ServerProcess, model) -> None:
    folder = artifacts_dir(request)
    save_artifacts(folder, project / ".hephaestus" / "logs", model.requests)
    shutil.copy(up.log, folder / "heph-up.log")


async def test_a_user_chat_seeds_a_bug_fix_run_that_real_claude_agents_carry_out(
    project, heph_up, agents_model
):
    guided: list[str] = []
    agents_model.script = scripted_model(guided)
    add_hephaestus(project, heph_up)
    said = claude("-p", f"start the bug_fix workflow for: {GOAL}",
                  "--allowedTools", "mcp__hephaestus__start_workflow", cwd=project)  # fmt: skip
    assert said.returncode == 0, said.stderr

    user = HephClient(heph_up.url, local_token(project / ".hephaestus" / "secrets", "user"))
    async with user:
        run = (await user.status())["runs"][0]["run"]["id"]
        completed = lambda s: s["run"]["status"] == "completed"  # noqa: E731
        await user.wait_for(run, completed, timeout=300, interval=1)
        status = await user.wait_for(run, merges_settled, timeout=60, interval=0.5)

    assert [(r["status"], r["feedback"]) for r in status["results"]] == [
        ("validated", "app.py guards empty input")
    ]
    tasks = {t["title"]: t for t in _tasks(status)}
    assert {t["status"] for t in tasks.values()} == {"done"}
    assert set(tasks) == {f"Reproduce: {GOAL}", FIX_TITLE, f"Validate: {FIX_TITLE}",
                          CHECK_TITLE, DISCOVERY_TITLE, RESULT_TITLE}  # fmt: skip
    assert git(project, "show", f"heph/{run}:app.py") == (BUGGY.splitlines()[0] + "\n" + FIXED
                                                          ).strip()  # fmt: skip
    assert git(project, "show", "main:app.py") == BUGGY.strip()  # the user's branch untouched
    with sqlite3.connect(project / ".hephaestus" / "heph.db") as db:
        merges = dict(db.execute("SELECT title, merge_state FROM tasks WHERE run_id = ?", (run,)))
        steered = db.execute("SELECT t.title, g.delivered_via FROM guidance g"
                             " JOIN tasks t ON t.id = g.task_id").fetchall()  # fmt: skip
        summaries = dict(db.execute("SELECT title, summary FROM tasks WHERE run_id = ?", (run,)))
    assert merges[FIX_TITLE] == "merged" and "conflict" not in merges.values()
    assert (DISCOVERY_TITLE, "prompt") in steered
    assert guided and set(guided) == {DISCOVERY_TITLE}  # the model read the Guardian's words
    assert summaries[DISCOVERY_TITLE] == STEERED
    panes = list((project / ".hephaestus" / "logs").glob("heph-*.log"))  # not heph.log
    assert len(panes) >= 6 and all("Claude Code" in p.read_text() for p in panes)
    await until_logged(heph_up, f"completed {run} {GOAL}")  # the terminal says how it ended


async def until_logged(up: ServerProcess, line: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while line not in up.log.read_text():
        assert time.monotonic() < deadline, up.log.read_text()[-3000:]
        await asyncio.sleep(0.1)


def _tasks(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for phase in status["phases"] for t in phase["tasks"]]


def test_scenario_scripts_cover_every_task_the_run_creates():
    """The plans name every title the scenario expects, so a renamed task fails loudly here."""
    created = {step["input"]["title"] for plan in PLANS.values() for step in plan
               if step.get("name") == "mcp__hephaestus__create_task"}  # fmt: skip
    made_by_the_server = {f"Reproduce: {GOAL}", f"Validate: {FIX_TITLE}", RESULT_TITLE}
    assert created | made_by_the_server == set(PLANS) | {CHECK_TITLE}
