"""One task as the operator's detail view shows it: the task, its brief, the guidance its
agents received, its merge (on the task record) and the diff stat of its branch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from heph_mcp.brief import task_brief as render_brief
from heph_mcp.live_records import ReceivedGuidance, TaskDetail
from heph_mcp.records import Principal, Task, iso
from heph_mcp.services.branch_work import run_work

if TYPE_CHECKING:
    from heph_mcp.services import Services


async def brief_of(svc: Services, task: Task) -> str:
    """The brief an agent of `task` reads (the prompt task_brief renders the same text)."""
    run = await svc.runs.get(task.run_id)
    memories = await svc.memories.for_brief(
        task.run_id, f"{task.title}\n{task.description}", svc.settings.brief_memory_chars
    )
    work = await run_work(svc.store, task.run_id) if task.kind == "result_validation" else None
    workflow = await svc.run_workflows.get(task.run_id)
    return render_brief(workflow, task, run.goal, memories, work)


async def task_detail(svc: Services, principal: Principal, task_id: str) -> TaskDetail:
    task = await svc.tasks.get(principal, task_id)
    rows = await svc.store.fetchall(
        "SELECT source, severity, text, created_at, delivered_at, delivered_via FROM guidance"
        " WHERE task_id = ? ORDER BY id",
        (task_id,),
    )
    guidance = [
        ReceivedGuidance.model_validate(
            {**dict(r), "created_at": iso(r["created_at"]), "delivered_at": iso(r["delivered_at"])}
        )
        for r in rows
    ]
    agents = await svc.store.fetchall(
        "SELECT id FROM agents WHERE task_id = ? AND status = 'running' ORDER BY started_at",
        (task_id,),
    )
    return TaskDetail(
        task=task,
        brief=await brief_of(svc, task),
        guidance=guidance,
        diffstat=await svc.live.diffstat(task_id),
        agents=[a["id"] for a in agents],
    )
