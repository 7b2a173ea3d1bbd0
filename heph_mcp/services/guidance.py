"""Guidance for agents: the Guardian's steering (and, later, messages), queued per agent.

An agent receives its pending guidance through the MCP prompt `guidance`
(typed into its pane as `/mcp__hephaestus__guidance`) or, for CLIs without
prompt commands, appended to its next tool result. Either way each item is
delivered once and the delivery is recorded. Every Guardian analysis is kept,
with its token cost, so steering can be audited and its cost measured.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from heph_mcp.errors import Conflict, NotFound
from heph_mcp.records import GuardianNote, GuardianView, JudgeCost, Principal, Steer, iso
from heph_mcp.services.common import now, record_event
from heph_mcp.settings import Settings
from heph_mcp.store import Store, query_all, query_one

Severity = Literal["info", "warning", "severe"]
AgentState = Literal[
    "exploring",
    "implementing",
    "verifying",
    "stuck",
    "drifting",
    "looping",
    "idle",
    "finished_unreported",
    "blocked_on_dialog",  # held by a dialog in its pane; the summary quotes the dialog
]


class Guidance(BaseModel):
    id: int
    severity: Severity
    source: str
    text: str
    created_at: str | None


class Analysis(BaseModel):
    """One judgement of one agent's new output."""

    agent_id: str
    judge: str = Field(min_length=1, max_length=64)
    state: AgentState
    alignment: float = Field(ge=0, le=1)
    summary: str = Field(max_length=4000)
    steering: str | None = Field(default=None, max_length=4000)
    severity: Severity = "warning"
    tokens_in: int = Field(default=0, ge=0)
    tokens_out: int = Field(default=0, ge=0)


class AnalysisRecorded(BaseModel):
    analysis_id: int
    guidance_id: int | None = None
    suppressed: str | None = Field(
        default=None, description="Why the steering was not queued (rate limit)"
    )


class GuidanceService:
    def __init__(self, store: Store, settings: Settings):
        self._store = store
        self._settings = settings

    async def record(self, principal: Principal, analysis: Analysis) -> AnalysisRecorded:
        """Store an analysis; queue its steering unless the agent was steered too recently."""
        async with self._store.transaction() as db:
            agent = await _running_agent(db, analysis.agent_id)
            guidance_id, suppressed = None, None
            if analysis.steering:
                suppressed = await self._rate_limited(db, analysis)
                if suppressed is None:
                    guidance_id = await queue_guidance(
                        db, agent, "guardian", analysis.severity, analysis.steering
                    )
            cursor = await db.execute(
                "INSERT INTO analyses (run_id, agent_id, task_id, judge, state, alignment,"
                " summary, steering, guidance_id, tokens_in, tokens_out, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    agent["run_id"], agent["id"], agent["task_id"], analysis.judge,
                    analysis.state, analysis.alignment, analysis.summary, analysis.steering,
                    guidance_id, analysis.tokens_in, analysis.tokens_out, now(),
                ),
            )  # fmt: skip
            if guidance_id is not None:
                await record_event(
                    db, principal.id, "agent_steered", run_id=agent["run_id"],
                    task_id=agent["task_id"], agent=agent["id"], state=analysis.state,
                )  # fmt: skip
        return AnalysisRecorded(
            analysis_id=int(cursor.lastrowid or 0), guidance_id=guidance_id, suppressed=suppressed
        )

    async def send(self, agent_id: str, source: str, text: str, severity: Severity = "info") -> int:
        """Queue guidance for a running agent from anyone but the Guardian (messages, users)."""
        async with self._store.transaction() as db:
            agent = await _running_agent(db, agent_id)
            return await queue_guidance(db, agent, source, severity, text)

    async def message(self, sender: Principal, to_agent: str | None, text: str) -> list[int]:
        """An agent's message to one agent of its run, or to all others (to_agent None)."""
        async with self._store.transaction() as db:
            rows = await query_all(
                db,
                "SELECT id, run_id, task_id, status FROM agents WHERE run_id = ?"
                " AND status = 'running' AND id != ?",
                (sender.run_id, sender.id),
            )
            targets = [r for r in rows if to_agent is None or r["id"] == to_agent]
            if to_agent is not None and not targets:
                raise NotFound(
                    f"no running agent {to_agent!r} in your run; get_agent_status lists them"
                )
            ids = [await queue_guidance(db, r, f"agent {sender.id}", "info", text) for r in targets]
            await record_event(
                db, sender.id, "message_sent", run_id=sender.run_id, to=to_agent or "all",
                recipients=len(ids),
            )  # fmt: skip
        return ids

    async def take(self, agent_id: str, via: Literal["prompt", "tool_result"]) -> list[Guidance]:
        """The agent's pending guidance, oldest first, marked delivered in the same step."""
        async with self._store.transaction() as db:
            rows = await query_all(
                db,
                "SELECT id, severity, source, text, created_at FROM guidance"
                " WHERE agent_id = ? AND delivered_at IS NULL ORDER BY id",
                (agent_id,),
            )
            if rows:
                marks = ",".join("?" * len(rows))
                await db.execute(
                    "UPDATE guidance SET delivered_at = ?, delivered_via = ?"
                    f" WHERE id IN ({marks})",
                    (now(), via, *[r["id"] for r in rows]),
                )
        return [
            Guidance(
                id=r["id"], severity=r["severity"], source=r["source"], text=r["text"],
                created_at=iso(r["created_at"]),
            )
            for r in rows
        ]  # fmt: skip

    async def has_pending(self, agent_id: str) -> bool:
        row = await self._store.fetchone(
            "SELECT 1 FROM guidance WHERE agent_id = ? AND delivered_at IS NULL LIMIT 1",
            (agent_id,),
        )
        return row is not None

    async def _rate_limited(self, db, analysis: Analysis) -> str | None:  # type: ignore[no-untyped-def]
        if analysis.severity == "severe":
            return None
        window = self._settings.steer_interval
        last = await query_one(
            db,
            "SELECT MAX(created_at) FROM guidance WHERE agent_id = ? AND source = 'guardian'",
            (analysis.agent_id,),
        )
        if last is None or last[0] is None or now() - last[0] >= window:
            return None
        return f"steered {now() - last[0]:.0f}s ago; one steer per {window:.0f}s unless severe"


async def _running_agent(db, agent_id: str):  # type: ignore[no-untyped-def]
    agent = await query_one(
        db, "SELECT id, run_id, task_id, status FROM agents WHERE id = ?", (agent_id,)
    )
    if agent is None:
        raise NotFound(f"no agent {agent_id!r}; list_agents shows the running ones")
    if agent["status"] != "running":
        raise Conflict(f"agent {agent_id} has exited; guidance would never be read")
    return agent


async def queue_guidance(db, agent, source: str, severity: str, text: str) -> int:  # type: ignore[no-untyped-def]
    cursor = await db.execute(
        "INSERT INTO guidance (run_id, agent_id, task_id, source, severity, text, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (agent["run_id"], agent["id"], agent["task_id"], source, severity, text, now()),
    )
    return int(cursor.lastrowid or 0)


async def guardian_view(store: Store, run_id: str, steers: int = 20) -> GuardianView:
    """What the Guardian thinks of a run's agents, what it said, and what that cost."""
    notes = await store.fetchall(
        "SELECT agent_id, task_id, judge, state, alignment, summary, steering, created_at"
        " FROM analyses WHERE id IN (SELECT MAX(id) FROM analyses WHERE run_id = ?"
        " GROUP BY agent_id) ORDER BY id",
        (run_id,),
    )
    said = await store.fetchall(
        "SELECT agent_id, source, severity, text, delivered_via, created_at FROM guidance"
        " WHERE run_id = ? ORDER BY id DESC LIMIT ?",
        (run_id, steers),
    )
    return GuardianView(
        notes=[GuardianNote(**{**dict(r), "at": iso(r["created_at"])}) for r in notes],
        steers=[Steer(**{**dict(r), "at": iso(r["created_at"])}) for r in said],
        costs=await _costs(store, run_id),
    )


async def _costs(store: Store, run_id: str) -> list[JudgeCost]:
    span = await store.fetchone(
        "SELECT SUM(COALESCE(ended_at, ?) - started_at) FROM agents WHERE run_id = ?",
        (now(), run_id),
    )
    hours = max((span[0] or 0.0) if span else 0.0, 1.0) / 3600
    rows = await store.fetchall(
        "SELECT judge, COUNT(*), SUM(tokens_in), SUM(tokens_out) FROM analyses"
        " WHERE run_id = ? GROUP BY judge ORDER BY judge",
        (run_id,),
    )
    return [
        JudgeCost(
            judge=r[0], calls=r[1], tokens_in=r[2] or 0, tokens_out=r[3] or 0,
            agent_hours=round(hours, 4),
            tokens_per_agent_hour=round(((r[2] or 0) + (r[3] or 0)) / hours, 1),
        )
        for r in rows
    ]  # fmt: skip
