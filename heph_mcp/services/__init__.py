"""The service layer: every tool, resource and prompt is a thin adapter over these."""

from __future__ import annotations

from dataclasses import dataclass

from heph_mcp.identity import Identity
from heph_mcp.memory import Memory
from heph_mcp.notify import Notifier
from heph_mcp.prices import load_prices
from heph_mcp.records import Principal, Task
from heph_mcp.services.agents import AgentService
from heph_mcp.services.approvals import ApprovalService
from heph_mcp.services.common import RunWorkflows, TaskReader
from heph_mcp.services.conductor import ConductorService
from heph_mcp.services.controls import ControlService
from heph_mcp.services.costs import CostService
from heph_mcp.services.dedup import TaskDeduper
from heph_mcp.services.guidance import GuidanceService
from heph_mcp.services.landings import LandService
from heph_mcp.services.live import LiveService
from heph_mcp.services.memories import MemoryService
from heph_mcp.services.merges import MergeService
from heph_mcp.services.results import ResultService
from heph_mcp.services.runs import RunService
from heph_mcp.services.tasks import TaskService
from heph_mcp.services.ticket_search import TicketSearch
from heph_mcp.services.tickets import TicketService
from heph_mcp.services.validation import ValidationService
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
    memories: MemoryService
    dedup: TaskDeduper
    run_workflows: RunWorkflows
    merges: MergeService
    notifier: Notifier
    guidance: GuidanceService
    conductor: ConductorService
    results: ResultService
    validation: ValidationService
    tickets: TicketService
    ticket_search: TicketSearch
    approvals: ApprovalService
    landings: LandService
    controls: ControlService
    costs: CostService
    live: LiveService

    @classmethod
    async def create(
        cls,
        settings: Settings,
        store: Store,
        registry: WorkflowRegistry,
        memory: Memory,
        notifier: Notifier | None = None,
    ) -> Services:
        identity = Identity(store, settings.secrets_dir)
        run_workflows = RunWorkflows(store)
        reader = TaskReader(store, run_workflows)
        workflows = WorkflowService(store, registry)
        await workflows.load_registered()
        await memory.ensure_collections()
        dedup = TaskDeduper(store, memory, settings)
        notifier = notifier or Notifier()
        tasks = TaskService(store, run_workflows, reader, dedup, notifier)
        results = ResultService(store, run_workflows, notifier)
        ticket_search = TicketSearch(store, memory)
        landings = LandService(store, notifier)
        agents = AgentService(store, identity, reader, settings, notifier)
        conductor = ConductorService(store, memory, tasks, settings.overlap_threshold, notifier)
        costs = CostService(store, load_prices(settings.prices_file), notifier)
        return cls(
            settings=settings,
            store=store,
            identity=identity,
            workflows=workflows,
            runs=RunService(
                store, workflows, run_workflows, reader, landings, dedup, notifier, costs
            ),
            tasks=tasks,
            agents=agents,
            memories=MemoryService(store, memory, settings),
            dedup=dedup,
            run_workflows=run_workflows,
            merges=MergeService(
                store, tasks, reader, run_workflows, notifier, settings.max_validation_iterations
            ),
            notifier=notifier,
            guidance=GuidanceService(store, settings),
            conductor=conductor,
            results=results,
            validation=ValidationService(
                store, reader, results, settings.max_validation_iterations, notifier
            ),
            tickets=TicketService(store, run_workflows, ticket_search, notifier),
            ticket_search=ticket_search,
            approvals=ApprovalService(store, run_workflows, settings, notifier),
            landings=landings,
            controls=ControlService(store, reader, agents, conductor, notifier),
            costs=costs,
            live=LiveService(store),
        )

    async def finish_task(
        self, principal: Principal, status: str, summary: str, learnings: list[str]
    ) -> Task:
        """Report the caller's own task; its learnings become memories of its run."""
        task = await self.tasks.finish_own(principal, status, summary, learnings)
        for learning in learnings:
            await self.memories.save(principal, learning, "learning", task_id=task.id)
        return task
