"""The Guardian against scripted agents in real tmux panes: heuristics, steering, delivery."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from swarmkit import scripted
from typer.testing import CliRunner

from guardian.guardian import GUIDANCE_COMMAND, Guardian
from guardian.judges import Verdict
from guardian.observe import Observation
from heph_mcp.client import merges_settled
from heph_mcp.commands.cli import app


def guardian_for(swarm, llm=None) -> Guardian:
    return Guardian(swarm.ops(), swarm.tmux, worker=swarm.settings.worker_id, llm=llm)


async def start_twins(swarm) -> str:
    """A run whose planner queues the same task in phases 2 and 3; returns once all 3 run."""
    twin = {
        "title": "Add a dark mode toggle to the settings page",
        "description": scripted("A switch in settings that flips the theme.", {"sleep": 60}),
    }
    goal = scripted(
        "Plan the theme work.",
        {"create_task": {"phase": 2, **twin}},
        {"create_task": {"phase": 3, **twin}},
        {"sleep": 60},
    )
    await swarm.start_launcher()
    run = await swarm.start(goal)
    await swarm.wait(run, lambda s: len(s["agents"]) == 3)
    return run


async def cycles_until(guardian: Guardian, condition, limit: int = 60) -> None:
    """Run Guardian cycles (0.25 s apart) until `condition()` holds; bounded."""
    for _ in range(limit):
        await guardian.cycle()
        if condition():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"condition not reached within {limit} Guardian cycles")


def analyses(swarm) -> list[tuple]:
    with swarm.db() as db:
        return [tuple(r) for r in db.execute("SELECT judge, state, steering FROM analyses")]


def delivered(swarm) -> list[tuple]:
    with swarm.db() as db:
        return [tuple(r) for r in db.execute("SELECT delivered_via, text FROM guidance")]


def pane_text(swarm) -> str:
    return "\n".join(swarm.tmux.capture(name, 200) for name in swarm.tmux.panes())


async def test_a_drifting_analysis_agent_is_steered_through_the_guidance_prompt(swarm):
    goal = scripted(
        "Analyse the crash, without changing code.",
        {"write": "src/app.py", "text": "print('patched during analysis')\n"},
        {"idle_prompt": True},
        {"sleep": 60},
    )
    await swarm.start_launcher()
    run = await swarm.start(goal)
    await swarm.wait(run, lambda s: len(s["agents"]) == 1)
    guardian = guardian_for(swarm)
    async with guardian.client:
        await cycles_until(guardian, lambda: "GUIDANCE:" in pane_text(swarm))
    assert analyses(swarm)[0][:2] == ("heuristic", "drifting")
    assert "GUIDANCE: Guidance from Hephaestus" in pane_text(swarm)
    assert "src/app.py" in pane_text(swarm)
    assert delivered(swarm)[0][0] == "prompt"


async def test_an_agent_looping_on_one_error_is_told_to_change_approach(swarm):
    goal = scripted(
        "Implement and keep retrying.",
        {"repeat_error": "ERROR: test_parse failed at line 42", "times": 4},
        {"idle_prompt": True},
        {"sleep": 60},
    )
    await swarm.start_launcher()
    run = await swarm.start(goal)
    await swarm.wait(run, lambda s: len(s["agents"]) == 1)
    guardian = guardian_for(swarm)
    async with guardian.client:
        await cycles_until(guardian, lambda: "GUIDANCE:" in pane_text(swarm))
    states = [a[1] for a in analyses(swarm) if a[2]]
    assert "looping" in states
    assert "same error" in pane_text(swarm)


async def test_a_stalled_agent_without_a_prompt_gets_its_guidance_on_its_next_tool_call(swarm):
    goal = scripted("Think for a while.", {"sleep": 4}, {"call_and_show": "whoami"}, {"sleep": 60})
    await swarm.start_launcher()
    run = await swarm.start(goal)
    await swarm.wait(run, lambda s: len(s["agents"]) == 1)
    guardian = guardian_for(swarm)
    guardian.heuristic.settings.stall_cycles = 2
    async with guardian.client:
        await cycles_until(guardian, lambda: any(a[1] == "stuck" for a in analyses(swarm)))
        await cycles_until(guardian, lambda: "tool result: Guidance" in pane_text(swarm))
    assert delivered(swarm)[0][0] == "tool_result"
    assert guardian.to_announce  # never typed: the agent never sat at a prompt


@dataclass
class ScriptedJudge:
    """Test double for an LLM judge: answers from a script, counts its calls."""

    name: str = "scripted-llm"
    calls: list[Observation] = field(default_factory=list)

    async def judge(self, observation: Observation) -> Verdict:
        self.calls.append(observation)
        return Verdict("implementing", 0.9, f"saw {len(observation.new_lines)} new lines",
                       tokens_in=100 * len(observation.new_lines), tokens_out=20)  # fmt: skip


async def test_the_llm_judge_is_asked_only_about_new_output_and_its_tokens_are_recorded(swarm):
    goal = scripted("Work quietly.", {"write": "notes.md", "text": "x"}, {"sleep": 60})
    await swarm.start_launcher()
    run = await swarm.start(goal)
    await swarm.wait(run, lambda s: len(s["agents"]) == 1)
    judge = ScriptedJudge()
    guardian = guardian_for(swarm, llm=judge)
    async with guardian.client:
        await cycles_until(guardian, lambda: "task" in pane_text(swarm) and judge.calls)
        before = len(judge.calls)
        quiet = [await guardian.cycle() for _ in range(2)]
    assert len(judge.calls) == before  # nothing new in the pane: no LLM call
    assert all(s.skipped == 1 and s.llm_calls == 0 for s in quiet)
    with swarm.db() as db:
        row = db.execute("SELECT judge, tokens_in, tokens_out FROM analyses").fetchone()
    assert row[0] == "scripted-llm" and row[1] > 0 and row[2] == 20


async def test_the_conductor_steers_the_later_of_two_agents_doing_the_same_work(swarm):
    await start_twins(swarm)
    events: list = []
    guardian = guardian_for(swarm)
    guardian._observe = lambda kind, data: events.append((kind, data))
    async with guardian.client:
        await guardian.cycle()
        await guardian.cycle()
    overlaps = [d for k, d in events if k == "overlap"]
    assert len(overlaps) == 1 and overlaps[0]["guidance_id"]
    with swarm.db() as db:
        judged = db.execute("SELECT agent_id FROM analyses WHERE judge = 'conductor'").fetchall()
        later = db.execute(
            "SELECT a.id FROM agents a JOIN tasks t ON t.id = a.task_id WHERE t.phase = 3"
        ).fetchone()
    assert [tuple(r) for r in judged] == [(later[0],)]


async def test_the_conductor_gives_a_finished_run_one_diagnostic_task(swarm):
    await swarm.start_launcher()
    run = await swarm.start(scripted("Nothing much.", {"done": "ok"}))
    # Stopped: its one task is done and merged (a merge still queued is movement).
    await swarm.wait(run, lambda s: s["phases"][0]["counts"] == {"done": 1} and merges_settled(s))
    guardian = guardian_for(swarm)
    async with guardian.client:
        await guardian.cycle()
        await guardian.cycle()
    with swarm.db() as db:
        titles = [r[0] for r in db.execute("SELECT title FROM tasks WHERE run_id = ?", (run,))]
    assert titles.count("Diagnose why the run stopped and decide what comes next") == 1


async def test_configured_to_cancel_the_conductor_ends_the_later_duplicate_session(swarm):
    run = await start_twins(swarm)
    guardian = guardian_for(swarm)
    guardian.cancel_duplicates = True
    async with guardian.client:
        await guardian.cycle()
    status = await swarm.wait(run, lambda s: len(s["agents"]) == 2)
    by_phase = {p["phase"]: p["counts"] for p in status["phases"]}
    assert by_phase[3] == {"cancelled": 1} and by_phase[2] == {"running": 1}


APPROVAL = Path(__file__).parents[1] / "data" / "panes" / "approval_bash.txt"
APPROVAL_LABEL = (
    "blocked on dialog (approval): This command requires approval · python3 -c 'print(6*7)'"
)


async def test_an_agent_on_a_dialog_is_recorded_blocked_at_once_and_nothing_is_typed_into_it(
    swarm,
):
    answered = swarm.exchange / "answered"
    goal = scripted(
        "Check a product with python.",
        {"show": str(APPROVAL)}, {"wait_file": str(answered)}, {"idle_prompt": True},
        {"sleep": 60},
    )  # fmt: skip
    await swarm.start_launcher()
    run = await swarm.start(goal)
    agent_id = (await swarm.wait(run, lambda s: len(s["agents"]) == 1))["agents"][0]["id"]
    await swarm.wait_until(lambda: "Esc to cancel · Tab to amend" in pane_text(swarm))
    judge = ScriptedJudge()
    guardian = guardian_for(swarm, llm=judge)
    guardian.heuristic.settings.stall_cycles = 2
    async with guardian.client:
        # An earlier steer waits for the agent's prompt.
        await guardian.client.call(
            "record_analysis", agent_id=agent_id, judge="heuristic", state="drifting",
            alignment=0.3, summary="an earlier look", steering="Earlier advice.",
        )  # fmt: skip
        guardian.to_announce.add(agent_id)
        first = await guardian.cycle()
        assert analyses(swarm)[-1] == ("heuristic", "blocked_on_dialog", None)
        quiet = [await guardian.cycle() for _ in range(4)]  # long enough to look stalled
        assert GUIDANCE_COMMAND not in pane_text(swarm) and agent_id in guardian.to_announce
        assert [a[1] for a in analyses(swarm)] == ["drifting", "blocked_on_dialog"]
        assert delivered(swarm) == [(None, "Earlier advice.")]
        assert judge.calls == []  # no LLM is asked about an agent on a dialog
        status = await swarm.user.status(run)
        printed = await asyncio.to_thread(heph_status, swarm)

        answered.write_text("yes")  # someone answered the dialog: the CLI goes on
        await cycles_until(guardian, lambda: "GUIDANCE:" in pane_text(swarm))
    assert first.judged == 1 and all(s.judged == 0 and s.steers_typed == 0 for s in quiet)
    (note,) = status["runs"][0]["guardian"]["notes"]
    assert (note["state"], note["summary"]) == ("blocked_on_dialog", APPROVAL_LABEL)
    assert "blocked_on_dialog" in printed and APPROVAL_LABEL in printed
    assert "Earlier advice." in pane_text(swarm)
    assert delivered(swarm) == [("prompt", "Earlier advice.")]


def heph_status(swarm) -> str:
    """The real `heph status` command against the swarm's server."""
    env = {"HEPH_PORT": str(swarm.settings.port), "COLUMNS": "250"}
    result = CliRunner().invoke(app, ["status", "--project", str(swarm.settings.project)], env=env)
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split())
