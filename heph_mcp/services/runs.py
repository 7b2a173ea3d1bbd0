"""Workflow runs: start one with its first task, cancel it, report on it."""

from __future__ import annotations

import json

from pydantic import BaseModel

from heph_mcp.errors import Conflict, InvalidRequest, NotFound
from heph_mcp.notify import Notifier
from heph_mcp.records import (
    PRIORITY_VALUE,
    Agent,
    PhaseSummary,
    Principal,
    Run,
    RunStatus,
    TaskSummary,
    iso,
)
from heph_mcp.services.approvals import pending_questions
from heph_mcp.services.branch_work import merge_queue, missing, run_work
from heph_mcp.services.common import (
    RunWorkflows,
    TaskReader,
    close_run,
    new_id,
    now,
    record_event,
)
from heph_mcp.services.costs import CostService, run_budget
from heph_mcp.services.dedup import TaskDeduper
from heph_mcp.services.guidance import guardian_view
from heph_mcp.services.landings import LandService
from heph_mcp.services.results import run_results
from heph_mcp.services.workflows import WorkflowService
from heph_mcp.store import Store

TITLE_LIMIT = 200


class StartedRun(BaseModel):
    run_id: str
    task_id: str
    workflow: str
    first_task_title: str


class CancelledRun(BaseModel):
    run_id: str
    cancelled_tasks: int
    running_agents: list[str]


class RunService:
    def __init__(
        self,
        store: Store,
        workflows: WorkflowService,
        run_workflows: RunWorkflows,
        tasks: TaskReader,
        landings: LandService,
        dedup: TaskDeduper | None = None,
        notifier: Notifier | None = None,
        costs: CostService | None = None,
    ):
        self._store = store
        self._workflows = workflows
        self._run_workflows = run_workflows
        self._tasks = tasks
        self._landings = landings
        self._dedup = dedup
        self._notifier = notifier or Notifier()
        self._costs = costs

    async def start(
        self, principal: Principal, workflow_name: str, goal: str, params: dict[str, str | int]
    ) -> StartedRun:
        workflow = self._workflows.get(workflow_name)
        params, budget = run_budget(workflow, params)
        try:
            values = workflow.resolve_params(params)
            title, description = workflow.render_first_task(goal, values)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        run_id, task_id, ts = new_id("r", 3), new_id("t"), now()
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO runs (id, workflow_name, workflow, goal, params, status, max_agents,"
                " created_by, created_at, updated_at, budget_tokens, budget_usd)"
                " VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    workflow.name,
                    workflow.model_dump_json(),
                    goal,
                    json.dumps(values),
                    workflow.config.max_concurrent_agents,
                    principal.id,
                    ts,
                    ts,
                    budget.tokens,
                    budget.usd,
                ),
            )
            await db.execute(
                "INSERT INTO tasks (id, run_id, phase, title, description, done_definition,"
                " priority, status, created_by, created_at, updated_at)"
                " VALUES (?, ?, 1, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                (
                    task_id,
                    run_id,
                    _clip(title),
                    description,
                    "\n".join(workflow.phases[0].done_definitions),
                    PRIORITY_VALUE["high"],
                    principal.id,
                    ts,
                    ts,
                ),
            )
            await record_event(
                db,
                principal.id,
                "run_started",
                run_id=run_id,
                task_id=task_id,
                workflow=workflow.name,
            )
        if self._dedup is not None:
            # The first task is work like any other: later duplicates of it must be caught.
            vector = await self._dedup.vector(_clip(title), description)
            await self._dedup.index(task_id, run_id, 1, vector)
        await self._notifier.queue_changed()
        return StartedRun(
            run_id=run_id, task_id=task_id, workflow=workflow.name, first_task_title=_clip(title)
        )

    async def get(self, run_id: str) -> Run:
        row = await self._store.fetchone("SELECT * FROM runs WHERE id = ?", (run_id,))
        if row is None:
            raise NotFound(f"no run {run_id!r}; workflow_status lists the runs")
        return _run_from_row(row)

    async def cancel(self, principal: Principal, run_id: str) -> CancelledRun:
        run = await self.get(run_id)
        if run.status != "active":
            raise Conflict(f"run {run_id} is already {run.status}")
        async with self._store.transaction() as db:
            cancelled = await close_run(db, run_id, "cancelled", principal.id)
        # Launchers end the run's sessions when they hear of it.
        await self._notifier.queue_changed()
        agents = await self._store.fetchall(
            "SELECT id FROM agents WHERE run_id = ? AND status = 'running'", (run_id,)
        )
        return CancelledRun(
            run_id=run_id, cancelled_tasks=cancelled, running_agents=[a["id"] for a in agents]
        )

    async def status(self, run_id: str | None = None) -> list[RunStatus]:
        if run_id is not None:
            runs = [await self.get(run_id)]
        else:
            rows = await self._store.fetchall("SELECT * FROM runs ORDER BY created_at")
            runs = [_run_from_row(r) for r in rows]
        return [await self._run_status(run) for run in runs]

    async def _run_status(self, run: Run) -> RunStatus:
        workflow = await self._run_workflows.get(run.id)
        tasks = await self._tasks.summaries("run_id = ?", (run.id,))
        agent_rows = await self._store.fetchall(
            "SELECT * FROM agents WHERE run_id = ? AND status = 'running' ORDER BY started_at",
            (run.id,),
        )
        phases = [_phase_summary(p.id, p.name, tasks) for p in workflow.phases]
        return RunStatus(
            run=run,
            phases=phases,
            agents=[Agent.from_row(a) for a in agent_rows],
            guardian=await guardian_view(self._store, run.id, steers=5),
            results=await run_results(self._store, run.id),
            questions=await pending_questions(self._store, run.id),
            merge_queue=await merge_queue(self._store, "run_id = ?", (run.id,)),
            missing_work=missing(await run_work(self._store, run.id)),
            landings=await self._landings.of_run(run.id),
            cost=await self._costs.of_run(run.id) if self._costs else None,
        )


def _phase_summary(phase_id: int, name: str, tasks: list[TaskSummary]) -> PhaseSummary:
    mine = [t for t in tasks if t.phase == phase_id]
    counts: dict[str, int] = {}
    for task in mine:
        counts[task.status] = counts.get(task.status, 0) + 1
    return PhaseSummary(phase=phase_id, name=name, counts=counts, tasks=mine)


def _run_from_row(row) -> Run:  # type: ignore[no-untyped-def]
    return Run(
        id=row["id"],
        workflow=row["workflow_name"],
        goal=row["goal"],
        params=json.loads(row["params"]),
        status=row["status"],
        created_at=iso(row["created_at"]),
        awaiting_merges=row["status"] == "active" and row["awaiting_merges_since"] is not None,
        paused=row["paused_at"] is not None,
        over_budget=row["over_budget_at"] is not None,
    )


def _clip(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"
