"""The built-in bug_fix workflow ends by itself: a verifier's result, once validated, completes
the run (stop_all), through the real launcher with scripted agents.

The reproducer sees the project's test fail and hands over a fix task; the fixer edits and
commits, and its validator runs the tests in a read-only checkout; the verifier waits for
the fix to land on the run's branch, runs the tests there and submits the result, whose
validator runs the tests on the run's branch. Nobody cancels anything.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from swarmkit import Swarm, git, scripted

BUGGY = "def first_word(text):\n    return text.split()[0]\n"
FIXED = "def first_word(text):\n    words = text.split()\n    return words[0] if words else ''\n"
TESTS = (
    "from app import first_word\n\n"
    "assert first_word('hello world') == 'hello'\n"
    "assert first_word('') == '', 'empty input'\n"
    "print('tests pass')\n"
)
RUN_TESTS = ["python3", "-B", "test_app.py"]


def plan() -> str:
    verify = scripted(
        "Verify the fix of first_word on empty input.",
        {"wait_parent_merged": True},
        {"run": RUN_TESTS},
        _result("first_word('') returns '' (fix commit on the run's branch); python3"
                " test_app.py passes."),
        {"done": "the fix holds; result submitted"},
    )  # fmt: skip
    return _reproduce(_fix(verify), {"run": RUN_TESTS})


def _result(markdown: str, *checks_first: dict[str, Any]) -> dict[str, Any]:
    """Submit the run's result; its validator runs the tests (after `checks_first`)."""
    check = scripted(markdown, *checks_first, {"review_command": RUN_TESTS})
    return {"submit_result": check, "evidence": ["python3 -B test_app.py: tests pass"]}


def _fix(verify: str, *before_done: dict[str, Any]) -> str:
    """The fixer: edit, commit, queue the verifier; its validator runs the tests."""
    return scripted(
        "first_word('') raises IndexError in app.py; return '' instead.",
        {"write": "app.py", "text": FIXED},
        {"commit": "first_word returns '' for empty input"},
        {"create_task": {"phase": 3, "title": "Verify the first_word fix", "description": verify}},
        *before_done,
        {"done": scripted("guarded first_word; tests pass", {"review_command": RUN_TESTS})},
    )  # fmt: skip


def _reproduce(fix: str, *first: dict[str, Any]) -> str:
    return scripted(
        "first_word crashes on empty input",
        *first,
        {"create_task": {"phase": 2, "title": "Guard first_word", "description": fix}},
        {"done": "reproduced: python3 test_app.py fails with IndexError"},
    )


def _commit_the_bug(swarm: Swarm) -> None:
    project = swarm.settings.project
    (project / "app.py").write_text(BUGGY)
    (project / "test_app.py").write_text(TESTS)
    git(project, "add", "app.py", "test_app.py")
    git(project, "commit", "-q", "-m", "the buggy app and its test")


async def test_a_bug_fix_run_completes_by_itself_once_its_verified_result_passes(swarm: Swarm):
    _commit_the_bug(swarm)
    await swarm.start_launcher()

    run = await swarm.start(plan(), workflow="bug_fix")
    status = await swarm.wait(run, lambda s: s["run"]["status"] == "completed", timeout=150)
    await swarm.wait_until(lambda: not swarm.tmux.panes(), timeout=30)

    assert [(r["status"], r["feedback"]) for r in status["results"]] == [
        ("validated", "python3 -B test_app.py exited 0")
    ]
    tasks = {t["title"].split(" <<")[0]: t for p in status["phases"] for t in p["tasks"]}
    assert {title: t["status"] for title, t in tasks.items()} == {
        "Reproduce: first_word crashes on empty input": "done",
        "Guard first_word": "done",
        "Validate: Guard first_word": "done",
        "Verify the first_word fix": "done",
        "Validate the run's result": "done",
    }
    assert tasks["Guard first_word"]["merge_state"] == "merged"
    assert swarm.git("show", f"heph/{run}:app.py") == FIXED.strip()
    assert swarm.git("show", "main:app.py") == BUGGY.strip()  # the user's branch untouched
    assert _tests_on(swarm, f"heph/{run}").returncode == 0
    assert _evidence(swarm, run)[-1].endswith("tests pass")


def _tests_on(swarm: Swarm, ref: str) -> subprocess.CompletedProcess[str]:
    """The project's tests, run on a ref's tree outside any worktree of the run."""
    folder = swarm.settings.project.parent / "checkout"
    folder.mkdir()
    for name in ("app.py", "test_app.py"):
        (folder / name).write_text(swarm.git("show", f"{ref}:{name}") + "\n")
    return subprocess.run(RUN_TESTS, cwd=folder, capture_output=True, text=True, check=False)


def _evidence(swarm: Swarm, run: str) -> list[Any]:
    """The result validator's evidence, as it gave it."""
    with swarm.db() as db:
        rows = db.execute(
            "SELECT detail FROM events WHERE run_id = ? AND kind = 'review_given' ORDER BY id",
            (run,),
        ).fetchall()
    return list(json.loads(rows[-1]["detail"])["evidence"])


def unmerged_plan(gate: str) -> str:
    """The verifier does not wait for the fix to land: the fix is in its worktree only through
    its lineage, and the fixer holds its own merge back until the result's check has begun."""
    verify = scripted(
        "Verify the first_word fix you start from (it has not landed yet).",
        {"run": RUN_TESTS},
        _result("first_word('') returns '' with the fix; python3 test_app.py passes.",
                {"write": gate, "text": "the result's check has its worktree"}),
        {"done": "the fix holds; result submitted"},
    )  # fmt: skip
    return _reproduce(_fix(verify, {"wait_file": gate}))


async def test_a_result_is_checked_on_the_branch_it_was_found_on_before_its_fix_lands(
    swarm: Swarm,
):
    _commit_the_bug(swarm)
    await swarm.start_launcher()

    run = await swarm.start(unmerged_plan(str(swarm.exchange / "checking")), workflow="bug_fix")
    status = await swarm.wait(run, lambda s: bool(s["results"]) and s["results"][0]["status"]
                              != "pending", timeout=150)  # fmt: skip

    assert [(r["status"], r["feedback"]) for r in status["results"]] == [
        ("validated", "python3 -B test_app.py exited 0")
    ]
    checker = next(t for p in status["phases"] for t in p["tasks"]
                   if t["title"] == "Validate the run's result")  # fmt: skip
    verifier = next(t for p in status["phases"] for t in p["tasks"]
                    if t["title"].startswith("Verify the first_word fix"))  # fmt: skip
    detail = await swarm.user.call("get_task", task_id=checker["id"])
    assert f"The worktree is heph/{run}-{verifier['id']}" in detail["description"]
    status = await swarm.wait(run, lambda s: s["run"]["status"] == "completed", timeout=120)
    assert swarm.git("show", f"heph/{run}:app.py") == FIXED.strip()
