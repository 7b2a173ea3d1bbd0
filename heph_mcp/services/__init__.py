"""The service layer: every tool, resource and prompt is a thin adapter over these."""

from __future__ import annotations

from dataclasses import dataclass

from heph_mcp.identity import Identity
from heph_mcp.services.agents import AgentService
from heph_mcp.services.common import RunWorkflows, TaskReader
from heph_mcp.services.runs import RunService
from heph_mcp.services.tasks import TaskService
from heph_mcp.services.workflows import WorkflowService
from heph_mcp.settings import Settings
from heph_mcp.store import Store
from phases import WorkflowRegistry


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    identity: Identity
    workflows: WorkflowService
    runs: RunService
    tasks: TaskService
    agents: AgentService
    run_workflows: RunWorkflows

    @classmethod
    async def create(cls, settings: Settings, store: Store, registry: WorkflowRegistry) -> Services:
        identity = Identity(store, settings.secrets_dir)
        run_workflows = RunWorkflows(store)
        reader = TaskReader(store, run_workflows)
        workflows = WorkflowService(store, registry)
        await workflows.load_registered()
        return cls(
            settings=settings,
            store=store,
            identity=identity,
            workflows=workflows,
            runs=RunService(store, workflows, run_workflows, reader),
            tasks=TaskService(store, run_workflows, reader),
            agents=AgentService(store, identity, reader, settings),
            run_workflows=run_workflows,
        )
