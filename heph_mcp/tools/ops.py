"""Tools for our own helper processes (launcher, Guardian), plus who-am-I and the agent view.

Documented in docs/architecture.md; the ops role never touches the database directly.
"""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import BaseModel, Field

from heph_mcp.identity import current_principal
from heph_mcp.merge_records import LandRequest, Lineage, MergeCheck, MergeState, QueuedMerge
from heph_mcp.records import Agent, Principal, Task
from heph_mcp.services.agents import AgentSession, AgentView, Claim, ExitOutcome, Released
from heph_mcp.services.merges import MergeRecorded
from heph_mcp.tools.common import ADDITIVE, ID_MAX, IDEMPOTENT_WRITE, READ_ONLY, roles, services
from phases.models import Label

# Names that become folders and files (session names, workers): never `.`, `..` or hidden.
Ident = Annotated[
    str,
    Field(
        min_length=1,
        max_length=ID_MAX,
        pattern=r"^[A-Za-z0-9_:@\-][A-Za-z0-9_.:@\-]*$",
        description="Letters, digits and _ . : @ -, not starting with a dot",
    ),
]
Lease = Annotated[float | None, Field(gt=0, le=86400, description="Seconds; default from settings")]


class AgentList(BaseModel):
    agents: list[Agent]


class AgentStatus(BaseModel):
    you: Principal
    agents: list[AgentView]


class Renewed(BaseModel):
    renewed: int


class PendingMerges(BaseModel):
    merges: list[QueuedMerge]


class LandRequests(BaseModel):
    requests: list[LandRequest]


Reason = Annotated[str, Field(min_length=1, max_length=4096)]
Path = Annotated[str, Field(min_length=1, max_length=4096)]


def register(mcp: FastMCP) -> None:
    @mcp.tool(auth=roles("user", "agent", "ops"), annotations=READ_ONLY)
    async def whoami() -> Principal:
        """Say who the server thinks you are (role, run, task); reads nothing else."""
        return current_principal()

    @mcp.tool(auth=roles("user", "agent"), annotations=READ_ONLY)
    async def get_agent_status(ctx: Context) -> AgentStatus:
        """See which agents are working on which tasks (in your run, for an agent)."""
        me = current_principal()
        run = me.run_id if me.role == "agent" else None
        return AgentStatus(you=me, agents=await services(ctx).agents.overview(run))

    @mcp.tool(auth=roles("ops"), annotations=ADDITIVE)
    async def claim_task(
        ctx: Context,
        worker: Ident,
        slots: Annotated[int, Field(ge=1, le=256, description="This worker's free capacity")],
        lease_seconds: Lease = None,
        labels: Annotated[
            list[Label],
            Field(max_length=32, description="This worker's labels; tasks may require some"),
        ] = [],  # noqa: B006 - pydantic copies defaults
    ) -> Claim:
        """Atomically claim the next queued task (priority, then age) within every cap whose
        required labels (the task's and its phase's) this worker has."""
        svc = services(ctx)
        lease = lease_seconds or svc.settings.lease_seconds
        return await svc.agents.claim(current_principal(), worker, slots, lease, labels)

    @mcp.tool(auth=roles("ops"), annotations=ADDITIVE)
    async def register_agent(
        ctx: Context,
        task_id: Ident,
        worker: Ident,
        session_name: Ident,
        cli: Annotated[str, Field(min_length=1, max_length=ID_MAX)],
        worktree: Annotated[str | None, Field(max_length=4096)] = None,
        lease_seconds: Lease = None,
    ) -> AgentSession:
        """Record the agent session started for a claimed task and mint its token."""
        svc = services(ctx)
        lease = lease_seconds or svc.settings.lease_seconds
        return await svc.agents.register(
            current_principal(), task_id, worker, session_name, cli, worktree, lease
        )

    @mcp.tool(auth=roles("ops"), annotations=IDEMPOTENT_WRITE)
    async def report_agent_exit(
        ctx: Context,
        agent_id: Ident,
        reason: Annotated[str, Field(min_length=1, max_length=4096)],
    ) -> ExitOutcome:
        """Report that an agent's session ended; an unreported task is retried or failed."""
        return await services(ctx).agents.report_exit(current_principal(), agent_id, reason)

    @mcp.tool(auth=roles("ops"), annotations=IDEMPOTENT_WRITE)
    async def renew_leases(ctx: Context, worker: Ident, lease_seconds: Lease = None) -> Renewed:
        """Keep this worker's claimed and running tasks from expiring back to the queue."""
        svc = services(ctx)
        lease = lease_seconds or svc.settings.lease_seconds
        return Renewed(renewed=await svc.agents.heartbeat(worker, lease))

    @mcp.tool(auth=roles("ops"), annotations=READ_ONLY)
    async def list_agents(
        ctx: Context,
        run: Annotated[str | None, Field(max_length=ID_MAX)] = None,
        worker: Ident | None = None,
    ) -> AgentList:
        """List running agent sessions: tmux session, worktree, task status, last request."""
        return AgentList(agents=await services(ctx).agents.running(run, worker))

    @mcp.tool(auth=roles("ops"), annotations=IDEMPOTENT_WRITE)
    async def release_claim(
        ctx: Context, worker: Ident, reason: Reason, task_id: Ident | None = None
    ) -> Released:
        """Give back a claim that got no agent (or, without task_id, all of this worker's)."""
        return await services(ctx).agents.release(current_principal(), worker, reason, task_id)

    @mcp.tool(auth=roles("ops"), annotations=ADDITIVE)
    async def record_merge(
        ctx: Context,
        task_id: Ident,
        state: MergeState,
        commit: Annotated[str | None, Field(pattern=r"^[0-9a-f]{40,64}$")] = None,
        conflicts: Annotated[list[Path], Field(max_length=500)] = [],  # noqa: B006
        worker: Ident | None = None,
        check: MergeCheck | None = None,
    ) -> MergeRecorded:
        """Record a step of a task's merge through its run's queue: queued (the answer names the
        verify check it must pass), verifying, then merged, nothing, conflict (queues a resolve
        task) or verify_failed (sends the task back or queues a fix, as its workflow says)."""
        return await services(ctx).merges.record(
            current_principal(), task_id, state, commit, conflicts, worker, check
        )

    @mcp.tool(auth=roles("ops"), annotations=READ_ONLY)
    async def pending_merges(ctx: Context, worker: Ident) -> PendingMerges:
        """Merges this worker queued but never finished (queued or verifying), in queue order."""
        return PendingMerges(merges=await services(ctx).merges.pending(worker))

    @mcp.tool(auth=roles("ops"), annotations=ADDITIVE)
    async def take_merges(ctx: Context, worker: Ident) -> PendingMerges:
        """Take over the merges that workers on other hosts handed over (queued with worker
        `remote` after pushing their branch): merges run on the server host only."""
        return PendingMerges(merges=await services(ctx).merges.take(worker))

    @mcp.tool(auth=roles("ops"), annotations=IDEMPOTENT_WRITE)
    async def record_lineage(ctx: Context, task_id: Ident, lineage: Lineage) -> Task:
        """Record what a task's worktree held at start: branches and commits merged into it."""
        return await services(ctx).agents.record_lineage(current_principal(), task_id, lineage)

    @mcp.tool(auth=roles("ops"), annotations=ADDITIVE)
    async def claim_land_requests(ctx: Context, worker: Ident) -> LandRequests:
        """Take the pending requests to land a run's branch on the user's branch."""
        return LandRequests(requests=await services(ctx).landings.claim(worker))

    @mcp.tool(auth=roles("ops"), annotations=ADDITIVE)
    async def record_land(
        ctx: Context,
        request_id: Ident,
        state: Literal["landed", "nothing", "refused"],
        message: Reason,
        commit: Annotated[str | None, Field(pattern=r"^[0-9a-f]{40,64}$")] = None,
    ) -> LandRequest:
        """Report how a land request ended: landed (commit), nothing to land, or refused (why)."""
        return await services(ctx).landings.record(
            current_principal(), request_id, state, commit, message
        )
