"""Placement and the hand-over of merges: claims respect worker labels that a task or its
phase requires, and merges queued by workers on other hosts go to the server host's."""

from __future__ import annotations

from typing import Any

from ticketkit import call, refused

PLACED = {
    "name": "placed",
    "description": "A phase that needs a GPU",
    "phases": [
        {"id": 1, "name": "plan", "description": "Plan."},
        {"id": 2, "name": "train", "description": "Train.", "requires": ["gpu"]},
    ],
}


async def _claim(heph, worker: str, labels: list[str]) -> dict[str, Any]:
    async with heph.ops() as ops:
        return await call(ops, "claim_task", worker=worker, slots=8, labels=labels)


async def test_a_task_that_requires_a_label_goes_only_to_a_worker_that_has_it(heph):
    run = (await heph.start_run())["run_id"]
    async with heph.user() as user:
        wanted = await call(user, "create_task", run=run, phase=1, title="Profile on macOS",
                             description="Only a Mac shows it", priority="critical",
                             requires=["macos"])  # fmt: skip
    assert wanted["requires"] == ["macos"]

    plain = await _claim(heph, "linux-box", [])  # passes over the macOS task to the next one
    other = await _claim(heph, "linux-box", ["gpu"])
    mac = await _claim(heph, "mac-mini", ["macos", "arm64"])

    assert plain["task"]["id"] != wanted["id"]
    assert other["task"] is None
    assert other["reason"] == (
        "1 queued task(s) need labels worker linux-box lacks (its labels: gpu)"
    )
    assert mac["task"]["id"] == wanted["id"]


async def test_a_labelled_worker_takes_the_work_only_it_can_run_before_plain_work(heph):
    run = (await heph.start_run())["run_id"]
    async with heph.user() as user:
        plain = await call(user, "create_task", run=run, phase=1, title="Fix the outage",
                            description="Now", priority="critical")  # fmt: skip
        gpu = await call(user, "create_task", run=run, phase=1, title="Train the model",
                          description="Needs the GPU", priority="critical",
                          requires=["gpu"])  # fmt: skip
        later = await call(user, "create_task", run=run, phase=1, title="Retrain later",
                            description="Needs the GPU, not urgent", priority="low",
                            requires=["gpu"])  # fmt: skip

    first = await _claim(heph, "gpu-box", ["gpu"])
    second = await _claim(heph, "gpu-box", ["gpu"])

    assert first["task"]["id"] == gpu["id"]  # only it can run this; any worker the older one
    assert second["task"]["id"] == plain["id"]  # a lower priority's GPU task waits its turn
    assert later["status"] == "queued"


async def test_a_phase_that_requires_a_label_keeps_every_task_of_it_to_such_workers(heph):
    async with heph.user() as user:
        await call(user, "register_workflow", definition=PLACED)
        run = (await heph.start_run(workflow="placed", goal="train it"))["run_id"]
        await call(user, "create_task", run=run, phase=2, title="Train the model",
                    description="Needs CUDA", priority="critical")  # fmt: skip
    first = await _claim(heph, "cpu-box", [])
    nothing = await _claim(heph, "cpu-box", [])
    gpu = await _claim(heph, "gpu-box", ["gpu"])
    assert first["task"]["title"] == "train it"  # the phase-1 task needs nothing
    assert nothing["task"] is None and "need labels" in nothing["reason"]
    assert gpu["task"]["title"] == "Train the model"


async def test_a_label_that_is_no_label_is_refused_with_what_is_allowed(heph):
    run = (await heph.start_run())["run_id"]
    async with heph.user() as user:
        said = await refused(user, "create_task", run=run, phase=1, title="x", description="y",
                            requires=["GPU with spaces"])  # fmt: skip
    assert "requires" in said and "pattern" in said


async def test_merges_handed_over_by_remote_workers_go_to_the_server_hosts_launcher_once(heph):
    await heph.start_run()
    agent = await heph.launch_agent(worker="far-away")
    async with heph.client(agent.token) as client:
        await call(client, "update_task_status", status="done", summary="done")
    async with heph.ops() as ops:
        await call(ops, "record_merge", task_id=agent.task_id, state="queued", worker="remote")
        taken = await call(ops, "take_merges", worker="server-host")
        again = await call(ops, "take_merges", worker="another-host")
        pending = await call(ops, "pending_merges", worker="server-host")
    assert [m["task_id"] for m in taken["merges"]] == [agent.task_id]
    assert taken["merges"][0]["worker"] == "server-host"
    assert again["merges"] == []
    assert [m["task_id"] for m in pending["merges"]] == [agent.task_id]
