"""Work lineage through the real launcher: every task an agent creates starts from its creator's
work, merged or not, and scripted agents that depend on those files fail when they are missing.

Gates (files the agents wait for) hold each creator open until its child has checked, so the
work a child sees cannot have come from the run's branch.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from swarmkit import Swarm, scripted

from heph_mcp.client import all_tasks_finished, merges_settled


def titled(status: dict, title: str) -> dict:
    return next(t for p in status["phases"] for t in p["tasks"] if t["title"] == title)


def chain(gates: Path, brief: Path) -> str:
    """Implement -> test (sees the implementer's unmerged files, leftovers too) -> fix ->
    retest (sees the unmerged fix)."""
    retest = scripted(
        "Check the greeting again now that it is fixed.",
        {"expect_file": "greet.py", "contains": "'hello'"},
        {"run": [sys.executable, "-c", "import greet; print('greets:', greet.greet())"]},
        {"write": str(gates / "retested"), "text": "ok"},
        {"done": "the greeting says hello"},
    )
    fix = scripted(
        "Fix the typo the tester found in the greeting.",
        {"expect_file": "greet.py", "contains": "'helo'"},
        {"write": "greet.py", "text": "def greet():\n    return 'hello'\n"},
        {"commit": "fix the greeting"},
        {"create_task": {"phase": 3, "title": "Retest the greeting", "description": retest}},
        {"wait_file": str(gates / "retested")},
        {"done": "fixed"},
    )
    test = scripted(
        "Test the greeting the implementer wrote.",
        {"expect_file": "greet.py", "contains": "def greet"},
        {"expect_file": "NOTES.md", "contains": "not committed by its agent"},
        {"copy_brief": str(brief)},
        {"create_task": {"phase": 2, "title": "Fix the greeting typo", "description": fix}},
        {"write": str(gates / "tested"), "text": "ok"},
        {"done": "found a typo; a fix task exists"},
    )
    implement = scripted(
        "Write the greeting module.",
        {"write": "greet.py", "text": "def greet():\n    return 'helo'\n"},
        {"commit": "add greet"},
        {"write": "NOTES.md", "text": "not committed by its agent\n"},
        {"create_task": {"phase": 3, "title": "Test the greeting", "description": test}},
        {"wait_file": str(gates / "tested")},
        {"done": "greet.py written"},
    )
    return scripted(
        "Plan the greeting.",
        {"create_task": {"phase": 2, "title": "Implement the greeting", "description": implement}},
        {"done": "planned"},
    )


async def test_a_tester_sees_its_implementers_unmerged_files_and_a_retest_sees_the_fix(
    swarm: Swarm,
):
    brief = swarm.exchange / "tester-brief.md"
    await swarm.start_launcher()
    run = await swarm.start(chain(swarm.exchange, brief))

    status = await swarm.wait(run, lambda s: len(_all(s)) == 5 and all_tasks_finished(s), 120)
    await swarm.wait(run, merges_settled)

    implementer = titled(status, "Implement the greeting")["id"]
    fixer = titled(status, "Fix the greeting typo")["id"]
    tester = await swarm.user.call("get_task", task_id=titled(status, "Test the greeting")["id"])
    retest = await swarm.user.call("get_task", task_id=titled(status, "Retest the greeting")["id"])
    assert {t["status"] for t in _all(status)} == {"done"}
    assert _held(tester) == {f"heph/{run}": "run", f"heph/{run}-{implementer}": "creator"}
    assert _held(retest)[f"heph/{run}-{fixer}"] == "creator"
    text = brief.read_text()
    assert "## What your worktree holds" in text
    assert f"heph/{run}-{implementer} at " in text and "which created this task" in text
    assert "greets: hello" in _pane_of(swarm, retest["id"])
    # Each creator's work landed by its own merge: a child's merge waited for it.
    with swarm.db() as db:
        states = dict(db.execute("SELECT id, merge_state FROM tasks WHERE run_id = ?", (run,)))
    assert (states[implementer], states[fixer]) == ("merged", "merged")
    assert swarm.git("show", f"heph/{run}:greet.py") == "def greet():\n    return 'hello'"
    assert swarm.git("show", f"heph/{run}:NOTES.md") == "not committed by its agent"


async def test_the_child_of_a_conflicted_task_starts_from_its_parents_work(swarm: Swarm):
    gate, brief = swarm.exchange / "second-may-finish", swarm.exchange / "child-brief.md"
    child = scripted(
        "Document the beta side of the shared file.",
        {"expect_file": "shared.txt", "contains": "beta"},
        {"expect_file": "beta.py", "contains": "BETA"},
        {"copy_brief": str(brief)},
        {"done": "saw the beta work"},
    )
    second = scripted(
        "Write the beta side of the shared file.",
        {"wait_file": str(gate)},
        {"write": "shared.txt", "text": "beta\n"},
        {"write": "beta.py", "text": "BETA = 2\n"},
        {"commit": "beta"},
        {"create_task": {"phase": 3, "title": "Document beta", "description": child,
                         "depends_on": ["$self"]}},
        {"done": "beta written"},
    )  # fmt: skip
    first = scripted(
        "Write the alpha side of the shared file.",
        {"write": "shared.txt", "text": "alpha\n"},
        {"commit": "alpha"},
        {"done": "alpha written"},
    )
    goal = scripted(
        "Split the shared file between two writers.",
        {"create_task": {"phase": 2, "title": "Write alpha", "description": first}},
        {"create_task": {"phase": 2, "title": "Write beta", "description": second}},
        {"done": "split"},
    )
    await swarm.start_launcher()
    run = await swarm.start(goal)
    await swarm.wait_until(lambda: _on_branch(swarm, run, "shared.txt"), timeout=60)
    gate.write_text("alpha has landed: beta will conflict")

    status = await swarm.wait(run, lambda s: _documented(s) and all_tasks_finished(s), 120)
    await swarm.wait(run, merges_settled)

    beta = titled(status, "Write beta")["id"]
    text = brief.read_text()
    assert f"Merging heph/{run}-{beta} onto heph/{run} conflicted in shared.txt" in text
    assert f"starts from heph/{run}-{beta} alone" in text
    with swarm.db() as db:
        states = dict(db.execute("SELECT id, merge_state FROM tasks WHERE run_id = ?", (run,)))
    assert states[beta] == "conflict"
    assert set(swarm.git("show", f"heph/{run}:shared.txt").split()) == {"alpha", "beta"}


def _all(status: dict) -> list[dict]:
    return [t for p in status["phases"] for t in p["tasks"]]


def _held(task: dict) -> dict[str, str]:
    return {h["branch"]: h["role"] for h in task["lineage"]["holds"]}


def _documented(status: dict) -> bool:
    return any(t["title"] == "Document beta" for t in _all(status))


def _on_branch(swarm: Swarm, run: str, path: str) -> bool:
    shown = subprocess.run(
        ["git", "cat-file", "-e", f"heph/{run}:{path}"], cwd=swarm.settings.project, check=False
    )
    return shown.returncode == 0


def _pane_of(swarm: Swarm, task_id: str) -> str:
    """The kept final pane of the agent that worked on a task."""
    logs = [p.read_text() for p in swarm.settings.logs_dir.glob("heph-*.log")]
    return next(text for text in logs if f"task {task_id} attempt" in text)
