"""Labelled trajectories replayed through the Guardian's pipeline: nothing missed, no false alarm.

The same replay as bench/guardian_cost.py (tests/replaykit.py). Dialog
trajectories are built from the real Claude Code panes in tests/data/panes/.
"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from replaykit import load, replay

from guardian.judges import BLOCKED, HeuristicJudge
from guardian.observe import Observation, at_prompt, dialog_key, look
from launcher.dialogs import Dialog, Kind, find_dialog

PANES = Path(__file__).parents[1] / "data" / "panes"
TRAJECTORIES = load()


@pytest.mark.parametrize("trajectory", TRAJECTORIES, ids=[t["name"] for t in TRAJECTORIES])
async def test_each_labelled_problem_is_caught_and_nothing_else_is_flagged(trajectory):
    result = await replay(trajectory)
    assert not result.missed, (result.expected_dialog, result.dialogs, result.steers)
    assert not result.false_alarm, (result.dialogs, result.steers)


async def test_every_kind_of_dialog_has_trajectories_and_none_of_them_is_steered():
    results = [await replay(t) for t in TRAJECTORIES if t["label"] == BLOCKED]
    assert {r.expected_dialog[1] for r in results if r.expected_dialog} == set(
        typing.get_args(Kind)
    )
    assert all(r.steers == [] for r in results)  # before, a silent dialog was "stuck" at once
    # A retry countdown ticking every cycle is recorded once, then once more when it gives up.
    (retrying,) = [r for r in results if r.name == "dialog-api-429-retrying-then-final"]
    assert [cycle for cycle, _ in retrying.dialogs] == [1, 5]


def test_an_agent_on_a_dialog_is_never_at_its_prompt():
    tail = ["❯", "Continue with the default profile? (y/n)"]
    assert at_prompt(tail)  # the bare prompt line alone would invite typing
    assert look(tail) == (False, Dialog("question", "Continue with the default profile? (y/n)"))
    assert look(["● Finished.", "─" * 80, "❯", "─" * 80]) == (True, None)


def test_a_ticking_countdown_is_one_dialog_and_a_new_dialog_is_another():
    retrying = (PANES / "api_429_retrying.txt").read_text().splitlines()
    later = [line.replace("in 5s · attempt 5/10", "in 19s · attempt 7/10") for line in retrying]
    final = (PANES / "api_429_final.txt").read_text().splitlines()
    keys = [dialog_key(find_dialog(lines)) for lines in (retrying, later, final)]
    assert keys[0] == keys[1] != keys[2] and dialog_key(None) == ""


async def test_a_dialog_outranks_every_other_finding_and_is_never_steered():
    dialog = find_dialog((PANES / "trust.txt").read_text().splitlines())
    observation = Observation(
        agent_id="a", task_id="t", run_id="r", phase="analysis", task_title="Find the crash",
        session="s", worktree="/wt", new_lines=["⏺ Update(/etc/hosts)"], tail=[],
        unchanged_cycles=9, at_prompt=False, busy=False, changed_files=["src/app.py"],
        repeated_errors={"ERROR: x": 5}, dialog=dialog,
    )  # fmt: skip
    verdict = await HeuristicJudge().judge(observation)
    assert (verdict.state, verdict.steering) == (BLOCKED, None)
    assert verdict.summary == (
        "blocked on dialog (trust): Is this a project you created or one you trust?"
    )


@pytest.mark.parametrize(
    ("line", "outside"),
    [
        # A worktree named after a task id ending in "cd" once read as `cd /brief.md`.
        ("Read /wt/r6b876b-tfdda9acd/brief.md.", None),
        ("⏺ Write(/wt/abcd/notes.md)", None),
        ("⏺ Bash(cd /wt && pytest -q)", None),
        ("⏺ Update(/etc/hosts)", "/etc/hosts"),
        ("⏺ Bash(cd /srv/other && make)", "/srv/other"),
        ("  cd /tmp/elsewhere", "/tmp/elsewhere"),
    ],
)
async def test_only_a_tool_or_cd_aimed_outside_the_worktree_counts_as_outside(line, outside):
    observation = Observation(
        agent_id="a", task_id="t", run_id="r", phase="implementation", task_title="Fix it",
        session="s", worktree="/wt", new_lines=[line], tail=[], unchanged_cycles=0,
        at_prompt=False, busy=True, changed_files=[], repeated_errors={}, dialog=None,
    )  # fmt: skip
    verdict = await HeuristicJudge().judge(observation)
    if outside is None:
        assert verdict.state != "drifting", verdict.summary
    else:
        assert verdict.state == "drifting" and outside in (verdict.steering or "")


@pytest.mark.parametrize(
    ("phase", "drifting"),
    [("reconnaissance", True), ("analysis", True), ("Requirements review", True),
     ("implementation", False), ("solving", False), ("verification", False)],
)  # fmt: skip
async def test_source_edits_are_drift_only_in_a_phase_that_looks_before_it_changes(phase, drifting):
    observation = Observation(
        agent_id="a", task_id="t", run_id="r", phase=phase, task_title="Map the binary",
        session="s", worktree="/wt", new_lines=["⏺ Update(/wt/keygen.py)"], tail=[],
        unchanged_cycles=0, at_prompt=False, busy=True, changed_files=["keygen.py", "notes.md"],
        repeated_errors={}, dialog=None,
    )  # fmt: skip
    verdict = await HeuristicJudge().judge(observation)
    assert (verdict.state == "drifting") is drifting, verdict.summary
    if drifting:
        assert "keygen.py" in (verdict.steering or "") and "notes.md" not in verdict.steering
