"""One task's refusal or failure is that task's alone: the launcher (and `heph up`) goes on."""

from __future__ import annotations

from typing import Any

from swarmkit import Swarm, scripted

from heph_mcp.client import HephClient, all_tasks_finished, merges_settled
from heph_mcp.identity import local_token


class CancelsBeforeRegister(HephClient):
    """The launcher's own ops client, with a cancel landing between a claim and the
    registration of its agent (the race an operator's cancel can win)."""

    cancelled: list[str]

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        if tool == "register_agent" and not self.cancelled:
            self.cancelled.append(arguments["task_id"])
            reason = "cancelled while its agent was being started"
            await super().call("cancel_task", task_id=arguments["task_id"], reason=reason)
        return await super().call(tool, **arguments)


def racing_client(swarm: Swarm) -> CancelsBeforeRegister:
    token = local_token(swarm.settings.secrets_dir, "ops")
    client = CancelsBeforeRegister(swarm.settings.url, token)
    client.cancelled = []
    return client


async def test_a_cancel_between_claim_and_register_ends_that_task_only(swarm):
    client = racing_client(swarm)
    await swarm.start_launcher(client)
    doomed = await swarm.start(scripted("Write the alpha notes.", {"done": "alpha"}))
    await swarm.wait(doomed, all_tasks_finished)
    kept = await swarm.start(scripted("Write the beta notes.", {"done": "beta"}))

    status = await swarm.wait(kept, lambda s: all_tasks_finished(s) and merges_settled(s))

    assert status["phases"][0]["tasks"][0]["status"] == "done"
    first = await swarm.user.call("get_task", task_id=client.cancelled[0])
    assert first["status"] == "cancelled" and first["run_id"] == doomed
    await swarm.wait_until(lambda: not swarm.tmux.panes())
    assert not list(swarm.settings.worktrees_dir.glob(f"{doomed}-*"))


async def test_a_task_whose_stored_text_breaks_git_fails_alone_with_the_cause(swarm):
    """A NUL byte reaching a git argument raises ValueError, not GitError; the tool boundary
    refuses such text, so the test writes it straight into the database."""
    gate = swarm.exchange / "poisoned"
    await swarm.start_launcher()
    run = await swarm.start(
        scripted("Plan the work.", {"wait_file": str(gate)}, {"done": "planned"})
    )
    await swarm.wait(run, lambda s: bool(s["agents"]))
    poisoned = await swarm.user.call(
        "create_task", run=run, phase=2, title="Write the gamma notes",
        description=scripted("Write the gamma notes.", {"done": "gamma"}),
    )  # fmt: skip
    with swarm.db() as db:
        db.execute("UPDATE tasks SET base_ref = ? WHERE id = ?", ("main\0x", poisoned["id"]))
    gate.write_text("go")
    status = await swarm.wait(run, all_tasks_finished, failures=True)
    failed = await swarm.user.call("get_task", task_id=poisoned["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert "ValueError" in failed["failure_reason"], failed["failure_reason"]
    assert "null byte" in failed["failure_reason"]
    planned = [t for p in status["phases"] for t in p["tasks"] if t["id"] != poisoned["id"]]
    assert [t["status"] for t in planned] == ["done"]
    later = await swarm.start(scripted("Write the delta notes.", {"done": "delta"}))
    await swarm.wait(later, lambda s: all_tasks_finished(s) and merges_settled(s))


async def test_a_title_with_control_characters_still_merges_and_the_launcher_goes_on(swarm):
    gate = swarm.exchange / "titled"
    await swarm.start_launcher()
    run = await swarm.start(
        scripted("Plan the work.", {"wait_file": str(gate)}, {"done": "planned"})
    )
    status = await swarm.wait(run, lambda s: bool(s["agents"]))
    planner = status["agents"][0]["task_id"]
    created = await swarm.user.call(
        "create_task", run=run, phase=2, title="Write the epsilon notes", depends_on=[planner],
        description=scripted(
            "Write the epsilon notes.", {"write": "epsilon.txt", "text": "epsilon\n"},
            {"commit": "epsilon"}, {"done": "epsilon"},
        ),
    )  # fmt: skip
    with swarm.db() as db:  # while it waits for the planner, before any launcher reads it
        db.execute(
            "UPDATE tasks SET title = ? WHERE id = ?", ("Eps\0il\x1b]0;x\x07on", created["id"])
        )
    gate.write_text("go")
    await swarm.wait(run, lambda s: all_tasks_finished(s) and merges_settled(s))

    merged = await swarm.user.call("get_task", task_id=created["id"])
    assert merged["merge_state"] == "merged"
    subjects = swarm.git("log", "--format=%s", f"heph/{run}").splitlines()
    assert f"Merge task {created['id']}: Eps il ]0;x on" in subjects, subjects
    later = await swarm.start(scripted("Write the zeta notes.", {"done": "zeta"}))
    await swarm.wait(later, lambda s: all_tasks_finished(s) and merges_settled(s))
