"""What a run costs: the tokens its agents and the Guardian used, priced, against its budget.

The launcher and the Guardian (ops role) read Claude Code's session transcripts
and the Guardian's own LLM answers, and report each message's `usage` here,
keyed by message within the run: a message reported again (by anyone) updates
its row, so repeating a report never counts twice. After every report the run's budget is judged: at
80% the run is marked warned, at 100% it is marked over budget, the claim
query skips it (nothing new launches) and its running agents are told, as
guidance, to wrap up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, Literal

import aiosqlite
from pydantic import ValidationError

from heph_mcp.cost_records import AgentSpend, RunCost, Spend, TaskSpend, UsageEntry, UsageRecorded
from heph_mcp.errors import InvalidRequest, NotFound
from heph_mcp.notify import Notifier
from heph_mcp.prices import PriceTable, Usage
from heph_mcp.records import Principal
from heph_mcp.services.common import now, record_event
from heph_mcp.services.guidance import queue_guidance
from heph_mcp.store import Store, query_all, query_one
from phases import Workflow
from phases.models import Budget

Source = Literal["agent", "guardian"]
Fetch = Callable[[str, Iterable[Any]], Awaitable[list[aiosqlite.Row]]]
BUDGET_PARAMS = ("budget_tokens", "budget_usd")
USAGE_COLUMNS = "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens"
# A message seen again (a retry's agent reads its worktree's earlier transcripts too) keeps
# its first reporter and takes the new counts.
UPSERT = ", ".join(f"{c} = excluded.{c}" for c in USAGE_COLUMNS.split(", ") + ["recorded_at"])
WRAP_UP = (
    "This run has used its whole budget ({used}). Stop starting new work: commit what you "
    "have, save what the next agent must know with save_memory, and report your task now "
    "with update_task_status (done if it is, else failed with what is left)."
)


class CostService:
    def __init__(self, store: Store, prices: PriceTable, notifier: Notifier | None = None):
        self._store = store
        self.prices = prices
        self._notifier = notifier or Notifier()

    async def record(
        self, principal: Principal, agent_id: str, source: Source, entries: list[UsageEntry]
    ) -> UsageRecorded:
        """Store each entry (replacing an earlier report of the same key), then judge the run's
        budget. An exited agent's usage is still taken: its last messages come after it."""
        agent = await self._store.fetchone(
            "SELECT run_id, task_id FROM agents WHERE id = ?", (agent_id,)
        )
        if agent is None:
            raise NotFound(f"no agent {agent_id!r}; list_agents shows the running ones")
        run_id = agent["run_id"]
        async with self._store.transaction() as db:
            await db.executemany(
                f"INSERT INTO usage (agent_id, key, run_id, task_id, source, model,"
                f" {USAGE_COLUMNS}, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                f" ON CONFLICT (run_id, key) DO UPDATE SET {UPSERT}",
                [
                    (agent_id, e.key, run_id, agent["task_id"], source, e.model, e.input_tokens,
                     e.output_tokens, e.cache_read_tokens, e.cache_write_tokens, now())
                    for e in entries
                ],
            )  # fmt: skip
            cost = await self._run_cost(partial(query_all, db), run_id)
            crossed = await self._judge_budget(db, principal, cost)
        if crossed:
            await self._notifier.queue_changed()
        return UsageRecorded(
            recorded=len(entries),
            run_id=run_id,
            budget_state=cost.budget_state,
            budget_used=cost.budget_used,
        )

    async def set_budget(
        self, principal: Principal, run_id: str, tokens: int | None, usd: float | None
    ) -> RunCost:
        """Replace the caps given (0 lifts one), then judge the run afresh: a run back under its
        budget launches again, and one put over it by a lower cap wraps up as at 100%."""
        if tokens is None and usd is None:
            raise InvalidRequest("give budget_tokens, budget_usd or both (0 lifts that cap)")
        async with self._store.transaction() as db:
            run = await query_one(
                db, "SELECT status, budget_tokens, budget_usd FROM runs WHERE id = ?", (run_id,)
            )
            if run is None or run["status"] != "active":
                state = "no run" if run is None else f"{run['status']} run"
                raise NotFound(f"{state} {run_id!r}; only an active run's budget can change")
            caps = (
                (tokens or None) if tokens is not None else run["budget_tokens"],
                (usd or None) if usd is not None else run["budget_usd"],
            )
            await db.execute(
                "UPDATE runs SET budget_tokens = ?, budget_usd = ?, updated_at = ? WHERE id = ?",
                (*caps, now(), run_id),
            )
            cost = await self._run_cost(partial(query_all, db), run_id)
            await self._reset_marks(db, cost)
            await record_event(
                db, principal.id, "budget_set", run_id=run_id, tokens=caps[0], usd=caps[1],
                state=cost.budget_state,
            )  # fmt: skip
            await self._judge_budget(db, principal, cost)
        await self._notifier.queue_changed()  # back under budget: its queued work is claimable
        return cost

    @staticmethod
    async def _reset_marks(db: aiosqlite.Connection, cost: RunCost) -> None:
        """Forget the 80% and 100% marks the new budget no longer reaches, so crossing them
        again is noticed again."""
        over = cost.budget_state == "over_budget"
        warned = cost.budget_state in ("warning", "over_budget")
        await db.execute(
            "UPDATE runs SET over_budget_at = CASE WHEN ? THEN over_budget_at END,"
            " budget_warned_at = CASE WHEN ? THEN budget_warned_at END WHERE id = ?",
            (over, warned, cost.run_id),
        )

    async def of_run(self, run_id: str) -> RunCost:
        return await self._run_cost(self._store.fetchall, run_id)

    async def _run_cost(self, fetch: Fetch, run_id: str) -> RunCost:
        """Read with `fetch`: the writer inside a report's transaction, else the reader."""
        runs = await fetch("SELECT budget_tokens, budget_usd FROM runs WHERE id = ?", (run_id,))
        if not runs:
            raise NotFound(f"no run {run_id!r}; workflow_status lists the runs")
        run = runs[0]
        rows = await fetch(
            "SELECT agent_id, task_id, source, model, SUM(input_tokens), SUM(output_tokens),"
            " SUM(cache_read_tokens), SUM(cache_write_tokens) FROM usage WHERE run_id = ?"
            " GROUP BY agent_id, source, model ORDER BY MIN(recorded_at)",
            (run_id,),
        )
        cost = RunCost(run_id=run_id, budget_tokens=run[0], budget_usd=run[1])
        agents: dict[tuple[str, str], AgentSpend] = {}
        tasks: dict[str, TaskSpend] = {}
        for agent_id, task_id, source, model, *tokens in rows:
            usage = Usage(**dict(zip(USAGE_COLUMNS.split(", "), tokens, strict=True)))
            usd = self.prices.cost(model, usage)
            if usd is None and model not in cost.unpriced_models:
                cost.unpriced_models.append(model)
            spend = agents.setdefault(
                (agent_id, source), AgentSpend(agent_id=agent_id, task_id=task_id, source=source)
            )
            for total in (spend, tasks.setdefault(task_id, TaskSpend(task_id=task_id)), cost):
                total.add(usage, usd)
            if source == "guardian":
                cost.guardian.add(usage, usd)
        cost.agents, cost.tasks = list(agents.values()), list(tasks.values())
        _round(cost, cost.guardian, *cost.agents, *cost.tasks)
        cost.judge_budget()
        return cost

    async def _judge_budget(
        self, db: aiosqlite.Connection, principal: Principal, cost: RunCost
    ) -> bool:
        """Mark the run warned (80%) or over budget (100%), once each; True when it just went
        over, so launchers hear that there is nothing more to claim there."""
        if cost.budget_state not in ("warning", "over_budget"):
            return False
        run = await query_one(
            db, "SELECT budget_warned_at, over_budget_at FROM runs WHERE id = ?", (cost.run_id,)
        )
        used = f"{cost.budget_used:.0%}"
        if run["budget_warned_at"] is None:  # type: ignore[index]
            await db.execute(
                "UPDATE runs SET budget_warned_at = ? WHERE id = ?", (now(), cost.run_id)
            )
            await record_event(db, principal.id, "budget_warning", run_id=cost.run_id, used=used)
        if cost.budget_state != "over_budget" or run["over_budget_at"] is not None:  # type: ignore[index]
            return False
        await db.execute("UPDATE runs SET over_budget_at = ? WHERE id = ?", (now(), cost.run_id))
        agents = await query_all(
            db,
            "SELECT id, run_id, task_id FROM agents WHERE run_id = ? AND status = 'running'",
            (cost.run_id,),
        )
        for agent in agents:
            await queue_guidance(db, agent, "hephaestus", "severe", WRAP_UP.format(used=used))
        await record_event(
            db, principal.id, "run_over_budget", run_id=cost.run_id, used=used,
            tokens=cost.total, usd=cost.usd, told=[a["id"] for a in agents],
        )  # fmt: skip
        return True


def run_budget(workflow: Workflow, params: dict[str, Any]) -> tuple[dict[str, Any], Budget]:
    """The run's launch parameters without the budget ones, and its budget: the params'
    `budget_tokens` / `budget_usd` over the workflow's `config.budget`."""
    given = {k: params[k] for k in BUDGET_PARAMS if k in params}
    rest = {k: v for k, v in params.items() if k not in BUDGET_PARAMS}
    base = workflow.config.budget or Budget()
    try:
        budget = Budget(
            tokens=int(given["budget_tokens"]) if "budget_tokens" in given else base.tokens,
            usd=float(given["budget_usd"]) if "budget_usd" in given else base.usd,
        )
    except (ValueError, ValidationError):
        raise InvalidRequest(
            f"budget params must be positive numbers: budget_tokens a whole number of tokens,"
            f" budget_usd dollars; got {given}"
        ) from None
    return rest, budget


def _round(*spends: Spend) -> None:
    for spend in spends:
        spend.usd = round(spend.usd, 6)
