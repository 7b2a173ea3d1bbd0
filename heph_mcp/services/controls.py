"""The operator's controls: steer one agent or task by hand without cancelling the run.

Each control is one transaction that leaves an event naming who did what. A
stopped agent is ended on the server (token revoked) and its launcher, seeing
it gone, ends the session and keeps its uncommitted work on its branch. A
paused run stays `active` (its agents keep working); only the claim query
skips it, so nothing new launches until it is resumed.
"""

from __future__ import annotations

from typing import Literal

import aiosqlite
from pydantic import BaseModel, Field

from heph_mcp.errors import Conflict, InvalidRequest, NotFound
from heph_mcp.notify import Notifier
from heph_mcp.records import OPEN_STATUSES, PRIORITY_VALUE, Principal, Task
from heph_mcp.services.agents import AgentService
from heph_mcp.services.blocking import release_ready
from heph_mcp.services.common import TaskReader, now, record_event
from heph_mcp.services.conductor import ConductorService
from heph_mcp.services.guidance import queue_guidance
from heph_mcp.services.validation import abandon_review
from heph_mcp.store import Store, query_one

StopThen = Literal["requeue", "fail"]
EVENT_TEXT = 500  # how much of a message the event history keeps


class Delivered(BaseModel):
    agent_id: str
    task_id: str
    guidance_id: int


class Stopped(BaseModel):
    agent_id: str
    task: Task


class RunPause(BaseModel):
    run_id: str
    paused: bool
    paused_at: float | None = Field(default=None, description="Unix time it was paused")


class ControlService:
    def __init__(
        self,
        store: Store,
        reader: TaskReader,
        agents: AgentService,
        conductor: ConductorService,
        notifier: Notifier | None = None,
    ):
        self._store = store
        self._reader = reader
        self._agents = agents
        self._conductor = conductor
        self._notifier = notifier or Notifier()

    async def message(
        self, principal: Principal, text: str, agent_id: str | None, task_id: str | None
    ) -> Delivered:
        """Queue guidance for one running agent, named directly or by its task."""
        if (agent_id is None) == (task_id is None):
            raise InvalidRequest("name exactly one of `agent_id` or `task_id`")
        async with self._store.transaction() as db:
            agent = await _running_agent(db, agent_id, task_id)
            guidance_id = await queue_guidance(db, agent, principal.id, "warning", text)
            await record_event(
                db, principal.id, "user_message", run_id=agent["run_id"],
                task_id=agent["task_id"], agent=agent["id"], text=text[:EVENT_TEXT],
            )  # fmt: skip
        return Delivered(agent_id=agent["id"], task_id=agent["task_id"], guidance_id=guidance_id)

    async def cancel(self, principal: Principal, task_id: str, reason: str) -> Task:
        """The Conductor's cancel (the task and any open check of it); the actor is the user."""
        return await self._conductor.cancel_task(principal, task_id, reason)

    async def retry(self, principal: Principal, task_id: str, reason: str) -> Task:
        """A failed or cancelled work task gets a fresh set of attempts; it waits as blocked
        if its dependencies are not done, exactly as when it was created."""
        async with self._store.transaction() as db:
            task = await _task(db, task_id)
            if task["status"] not in ("failed", "cancelled"):
                raise Conflict(f"task {task_id} is {task['status']}; only a failed or cancelled"
                               " task can be retried")  # fmt: skip
            if task["kind"] != "work":
                raise Conflict(f"task {task_id} is a {task['kind']} task; retry the task it"
                               " checks instead, its check follows")  # fmt: skip
            run = await query_one(db, "SELECT status FROM runs WHERE id = ?", (task["run_id"],))
            if run is None or run["status"] != "active":
                raise Conflict(f"run {task['run_id']} is {run['status'] if run else 'gone'};"
                               " tasks of an ended run cannot be retried")  # fmt: skip
            await db.execute(
                "UPDATE tasks SET status = 'blocked', attempts = 0, claimed_by = NULL,"
                " lease_expires_at = NULL, finished_at = NULL, updated_at = ? WHERE id = ?",
                (now(), task_id),
            )
            await record_event(
                db, principal.id, "task_retried_by_user", run_id=task["run_id"], task_id=task_id,
                was=task["status"], reason=reason,
            )  # fmt: skip
            await release_ready(db, "t.id = ?", (task_id,), principal.id)
        await self._notifier.queue_changed()
        return await self._reader.one(task_id)

    async def prioritise(self, principal: Principal, task_id: str, priority: str) -> Task:
        async with self._store.transaction() as db:
            task = await _task(db, task_id)
            if task["status"] not in OPEN_STATUSES:
                raise Conflict(f"task {task_id} is {task['status']}; only open tasks "
                               f"({', '.join(OPEN_STATUSES)}) wait for a priority")  # fmt: skip
            await db.execute(
                "UPDATE tasks SET priority = ?, updated_at = ? WHERE id = ?",
                (PRIORITY_VALUE[priority], now(), task_id),
            )
            await record_event(
                db, principal.id, "task_priority_changed", run_id=task["run_id"],
                task_id=task_id, priority=priority, was=task["priority"],
            )  # fmt: skip
        await self._notifier.queue_changed()
        return await self._reader.one(task_id)

    async def stop_agent(
        self, principal: Principal, agent_id: str, then: StopThen, reason: str
    ) -> Stopped:
        """End one agent; its task goes back to the queue or fails, as the user chose."""
        why = f"stopped by {principal.id}: {reason}"
        async with self._store.transaction() as db:
            agent = await _running_agent(db, agent_id, None)
            await self._agents.end(db, agent_id, why)
            task = await _task(db, agent["task_id"])
            if task["status"] in ("claimed", "running", "needs_work"):
                await _settle(db, task, then, why)
            await record_event(
                db, principal.id, "agent_stopped", run_id=agent["run_id"],
                task_id=agent["task_id"], agent=agent_id, then=then, reason=reason,
            )  # fmt: skip
        await self._notifier.queue_changed()
        return Stopped(agent_id=agent_id, task=await self._reader.one(agent["task_id"]))

    async def pause(self, principal: Principal, run_id: str, paused: bool) -> RunPause:
        async with self._store.transaction() as db:
            run = await query_one(db, "SELECT status, paused_at FROM runs WHERE id = ?", (run_id,))
            if run is None:
                raise NotFound(f"no run {run_id!r}; workflow_status lists the runs")
            if run["status"] != "active":
                raise Conflict(f"run {run_id} is {run['status']}; only an active run can be"
                               " paused or resumed")  # fmt: skip
            if (run["paused_at"] is not None) == paused:
                state = "paused" if paused else "not paused"
                raise Conflict(f"run {run_id} is already {state}; nothing changed")
            at = now() if paused else None
            await db.execute(
                "UPDATE runs SET paused_at = ?, paused_by = ?, updated_at = ? WHERE id = ?",
                (at, principal.id if paused else None, now(), run_id),
            )
            kind = "run_paused" if paused else "run_resumed"
            await record_event(db, principal.id, kind, run_id=run_id)
        if not paused:
            await self._notifier.queue_changed()  # launchers claim its queued work again
        return RunPause(run_id=run_id, paused=paused, paused_at=at)


async def _task(db: aiosqlite.Connection, task_id: str) -> aiosqlite.Row:
    row = await query_one(
        db, "SELECT id, run_id, status, kind, priority FROM tasks WHERE id = ?", (task_id,)
    )
    if row is None:
        raise NotFound(f"no task {task_id!r}; get_tasks lists the tasks")
    return row


async def _running_agent(
    db: aiosqlite.Connection, agent_id: str | None, task_id: str | None
) -> aiosqlite.Row:
    column, value = ("id", agent_id) if agent_id is not None else ("task_id", task_id)
    row = await query_one(
        db,
        f"SELECT id, run_id, task_id, status FROM agents WHERE {column} = ?"
        " ORDER BY status = 'running' DESC, started_at DESC LIMIT 1",
        (value,),
    )
    if row is None or row["status"] != "running":
        what = f"agent {agent_id!r}" if agent_id is not None else f"task {task_id!r}"
        raise Conflict(f"no running agent for {what}; get_agent_status lists the running ones")
    return row


async def _settle(db: aiosqlite.Connection, task: aiosqlite.Row, then: StopThen, why: str) -> None:
    requeue = then == "requeue"
    await db.execute(
        "UPDATE tasks SET status = ?, failure_reason = ?, claimed_by = NULL,"
        " lease_expires_at = NULL, updated_at = ?, finished_at = ? WHERE id = ?",
        ("queued" if requeue else "failed", why, now(), None if requeue else now(), task["id"]),
    )
    if not requeue:
        await abandon_review(db, task["id"], why)
