"""The merge queue through the real launcher: verify checks on merged trees, queue order, runs
merging in parallel, runs that wait for missing work, and landing when the user asks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from swarmkit import SCRIPTED, Swarm, exchange_folder, running_swarm, scripted, swarm_settings

from heph_mcp.client import all_tasks_finished, merges_settled
from heph_mcp.memory.embedder import LocalEmbedder
from launcher.git_repo import open_repo
from launcher.merge_queue import MergeQueue
from phases import Workflow


def checked(name: str, verify: dict[str, Any] | str, **config: Any) -> Workflow:
    """The scripted workflow with a merge check (and any other config)."""
    settings = SCRIPTED.config.model_dump() | {"verify": verify, **config}
    return Workflow.model_validate(SCRIPTED.model_dump() | {"name": name, "config": settings})


def gated(gate: Path) -> Workflow:
    """Every merge waits in its check until the gate file exists."""
    wait = f"while [ ! -e {gate} ]; do sleep 0.05; done; echo checked"
    return Workflow.model_validate(checked("gated", {"command": wait, "timeout": 120}).model_dump())


@pytest.fixture
async def swarm(project: Path, embedder: LocalEmbedder) -> Any:
    shared = exchange_folder(project)  # gates and copies the sandboxed agents and checks see
    flows = [
        gated(shared / "gate"),
        checked("graded", "cat status.txt; grep -q good status.txt"),
        checked("answered", "cat app.txt; grep -q fixed app.txt", has_result=True,
                on_result_found="stop_all",
                result_criteria=[scripted("The result is checked.",
                                          {"copy_brief": str(shared / "result-brief.md")},
                                          {"review": True})]),
    ]  # fmt: skip
    async with running_swarm(swarm_settings(project), embedder, flows) as running:
        yield running


def link(name: str, sees: list[str]) -> str:
    steps: list[dict[str, Any]] = [{"expect_file": f"{s}.txt", "contains": s} for s in sees]
    steps += [{"write": f"{name}.txt", "text": f"{name}\n"}, {"commit": f"link {name}"}]
    return scripted(f"Link {name} of the chain.", *steps, {"done": f"{name} linked"})


def create(name: str, description: str, after: str | None = None) -> dict[str, Any]:
    args = {"phase": 2, "title": f"Link {name}", "description": description}
    return {"call": "create_task", "args": args | ({"depends_on": [f"${after}.id"]} if after
                                                  else {}), "save_as": name}  # fmt: skip


async def test_a_chain_of_depends_on_sees_every_link_while_the_queue_holds_their_merges(
    swarm: Swarm,
):
    plan = scripted(
        "Build a chain of three links, each on the one before.",
        create("a", link("a", [])),
        create("b", link("b", ["a"]), after="a"),
        create("c", link("c", ["a", "b"]), after="b"),
        {"done": "chained"},
    )
    await swarm.start_launcher()
    run = await swarm.start(plan, workflow="gated")
    held = await swarm.wait(run, lambda s: [m["state"] for m in s["merge_queue"]] == [
        "verifying", "queued", "queued"] and all_tasks_finished(s), timeout=120)  # fmt: skip
    other = await swarm.start(
        scripted("Meanwhile, another run.", {"write": "other.txt", "text": "x"}, {"commit": "x"})
    )
    await swarm.wait(other, lambda s: all_tasks_finished(s) and merges_settled(s))
    untouched = swarm.git("ls-tree", "--name-only", f"heph/{run}")
    (swarm.exchange / "gate").write_text("open")  # fmt: skip
    await swarm.wait(run, merges_settled)

    ids = {t["title"]: t["id"] for p in held["phases"] for t in p["tasks"]}
    assert [m["task_id"] for m in held["merge_queue"]] == [ids["Link a"], ids["Link b"],
                                                           ids["Link c"]]  # fmt: skip
    assert untouched.split() == ["README.md"]  # nothing merged while the check held the queue
    assert swarm.git("show", f"heph/{other}:other.txt") == "x"  # runs merge in parallel
    merges = swarm.git("log", "--first-parent", "--format=%s", f"heph/{run}").splitlines()
    assert [m.split(": ")[-1] for m in merges[:3]] == ["Link c", "Link b", "Link a"]
    checks = [d for kind, d in swarm.events if kind == "verified"]
    assert [d["task_id"] for d in checks] == [ids["Link a"], ids["Link b"]]  # b and c as one
    c = await swarm.user.call("get_task", task_id=ids["Link c"])
    assert [(h["task_id"], h["role"]) for h in c["lineage"]["holds"]][1:] == [
        (ids["Link b"], "dependency")]  # fmt: skip


async def test_a_merge_that_fails_its_check_never_moves_the_branch_and_comes_back_with_its_output(
    swarm: Swarm,
):
    brief = swarm.exchange / "second-attempt-brief.md"
    goal = scripted(
        "Grade the build.",
        {"write": "status.txt", "text": "bad\n"},
        {"when_feedback": [{"copy_brief": str(brief)}, {"write": "status.txt", "text": "good\n"}]},
        {"commit": "grade"},
        {"done": "graded"},
    )
    (swarm.settings.project / "README.md").write_text("the user's own edit\n")
    await swarm.start_launcher()
    run = await swarm.start(goal, workflow="graded")

    status = await swarm.wait(run, lambda s: all_tasks_finished(s) and merges_settled(s), 90)
    refused = await swarm.user.land(run)
    swarm.git("checkout", "README.md")
    landed = await swarm.user.land(run, into="main")

    task = await swarm.user.call("get_task", task_id=status["phases"][0]["tasks"][0]["id"])
    assert (task["status"], task["attempts"], task["merge_state"]) == ("done", 2, "merged")
    text = brief.read_text()
    assert "## The merge check sent this work back" in text
    assert "`cat status.txt; grep -q good status.txt`, which exited with status 1" in text
    assert "bad" in text.split("The end of its output:")[1]
    held = swarm.git("reflog", "show", "--format=%H", f"heph/{run}").split()  # every tip it had
    graded = [swarm.git("show", f"{c}:status.txt") for c in held if _has(swarm, c)]
    assert graded == ["good"]  # the run's branch never held the failing tree
    logs = sorted(swarm.settings.logs_dir.glob(f"verify-{run}-*.log"))
    assert [log.read_text() for log in logs] == ["bad\n", "good\n"]
    assert refused["state"] == "refused" and "uncommitted changes (README.md)" in refused["message"]
    assert landed["state"] == "landed" and (swarm.settings.project / "status.txt").exists()
    assert swarm.git("rev-parse", "main") == swarm.git("rev-parse", f"heph/{run}")


async def test_a_run_whose_fix_never_landed_cannot_complete(swarm: Swarm):
    fix_may_finish, report = swarm.exchange / "fix-may-finish", swarm.exchange / "report"
    fix = scripted(
        "Fix the app.",
        {"write": "app.txt", "text": "still broken\n"},
        {"when_feedback": [{"wait_file": str(fix_may_finish)},
                           {"write": "app.txt", "text": "fixed\n"}]},
        {"commit": "fix the app"},
        {"done": "fixed, I think"},
    )  # fmt: skip
    reporter = scripted(
        "Report the answer.",
        {"wait_file": str(report)},
        {"submit_result": "The app is fixed in app.txt"},
        {"done": "reported"},
    )
    goal = scripted(
        "Plan the fix and the report.",
        {"create_task": {"phase": 2, "title": "Fix the app", "description": fix}},
        {"create_task": {"phase": 3, "title": "Report the fix", "description": reporter}},
        {"done": "planned"},
    )
    await swarm.start_launcher()
    run = await swarm.start(goal, workflow="answered")
    await swarm.wait(run, lambda s: _fix(s).get("merge_state") == "verify_failed")
    report.write_text("the fix's merge failed its check: report now")

    waiting = await swarm.wait(run, lambda s: s["run"]["awaiting_merges"], timeout=90)
    still = (await swarm.user.status(run))["runs"][0]
    fix_may_finish.write_text("go")
    done = await swarm.wait(run, lambda s: s["run"]["status"] == "completed", timeout=90)

    fix_id = _fix(waiting)["id"]
    assert [w["task_id"] for w in waiting["missing_work"]] == [fix_id]
    assert still["run"]["status"] == "active"  # validated, yet not complete: the fix is missing
    assert f"- {fix_id} Fix the app: MISSING from the branch" in (
        swarm.exchange / "result-brief.md").read_text()  # fmt: skip
    assert done["missing_work"] == [] and _fix(done)["merge_state"] == "merged"
    assert swarm.git("show", f"heph/{run}:app.txt") == "fixed"


def _fix(status: dict) -> dict:
    found = [t for p in status["phases"] for t in p["tasks"] if t["title"] == "Fix the app"]
    return found[0] if found else {}


def _has(swarm: Swarm, commit: str) -> bool:
    return "status.txt" in swarm.git("ls-tree", "--name-only", commit).split()


async def test_a_failing_batch_is_checked_one_by_one_and_only_the_bad_merge_is_left_out(
    swarm: Swarm,
):
    """However the three are batched (that depends on when each joins the queue), a failing
    batch falls back to one merge at a time: the good ones land in order, the bad one comes
    back, and the run's branch never holds the bad tree."""
    (swarm.settings.project / "status.txt").write_text("good\n")
    swarm.git("add", "status.txt")
    swarm.git("commit", "-q", "-m", "a good start")
    run = await swarm.start("Merge three branches.", workflow="graded")
    repo = open_repo(swarm.settings.project)
    repo.ensure_branch(f"heph/{run}", "HEAD")
    jobs = []
    for name, files in (("one", {"one.txt": "1\n"}), ("two", {"status.txt": "bad\n"}),
                        ("three", {"three.txt": "3\n"})):  # fmt: skip
        task = await swarm.user.create_task(run, 2, f"Grade {name}", f"grade {name}")
        worktree = swarm.settings.worktrees_dir / name
        repo.add_worktree(worktree, f"heph/{run}-{task['id']}", f"heph/{run}")
        for path, text in files.items():
            (worktree / path).write_text(text)
        repo.commit_leftovers(worktree, f"grade {name}")
        repo.remove_worktree(worktree)
        jobs.append(task)
    events: list[tuple[str, dict[str, Any]]] = []
    async with swarm.ops() as ops:
        queue = MergeQueue(repo, ops, swarm.settings, lambda k, d: events.append((k, d)))
        for task in jobs:
            await queue.submit(run, task["id"], task["title"])
        await queue.drain()
        await queue.close()
    states = [(await swarm.user.call("get_task", task_id=t["id"]))["merge_state"] for t in jobs]
    held = swarm.git("reflog", "show", "--format=%H", f"heph/{run}").split()
    grades = {swarm.git("show", f"{c}:status.txt") for c in held if _has(swarm, c)}
    assert states == ["merged", "verify_failed", "merged"]
    assert grades == {"good"}
    assert swarm.git("ls-tree", "--name-only", f"heph/{run}").split() == [
        "README.md", "one.txt", "status.txt", "three.txt"]  # fmt: skip
    checks = [d["passed"] for k, d in events if k == "verified"]
    assert checks.count(True) == 2 and checks[-1] is True


async def test_a_merge_held_when_its_launcher_stops_lands_after_the_next_one_starts(swarm: Swarm):
    await swarm.start_launcher()
    run = await swarm.start(
        scripted("Write one file.", {"write": "one.txt", "text": "1\n"}, {"commit": "one"}),
        workflow="gated",
    )
    await swarm.wait(run, lambda s: [m["state"] for m in s["merge_queue"]] == ["verifying"])
    await swarm.stop_launcher()  # its check is stopped; the server still has it queued
    scratch = list((swarm.settings.state_dir / "scratch").glob("*"))
    await swarm.start_launcher()
    (swarm.exchange / "gate").write_text("open")

    await swarm.wait(run, merges_settled)

    assert scratch == []  # a stopped launcher leaves no scratch worktree behind
    assert swarm.git("show", f"heph/{run}:one.txt") == "1"
    with swarm.db() as db:
        workers = db.execute("SELECT merge_worker FROM tasks WHERE run_id = ?", (run,))
        assert {w[0] for w in workers} == {swarm.settings.worker_id}
