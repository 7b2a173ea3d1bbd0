"""Approval requests: what an agent asks for beyond its settings, decided without a dialog.

Claude Code hands every permission it would otherwise ask a human for to a
hook; the hook brings it here. The policy (approval_policy.py) decides at
once, or the request becomes a question the user answers over MCP; a
question nobody answers before its timeout is denied with a message the
agent can act on. Every decision is stored with who made it. The hook waits
for a pending question by polling `wait`, so a server restart loses nothing.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from claude_config.confinement import user_secrets
from heph_mcp.errors import Conflict, Forbidden, InvalidRequest, NotFound
from heph_mcp.notify import Notifier
from heph_mcp.records import Approval, Principal
from heph_mcp.services.approval_policy import Asked, Boundary, Ruling, decide, question_texts
from heph_mcp.services.common import RunWorkflows, new_id, now, record_event
from heph_mcp.settings import Settings
from heph_mcp.store import Store

STATUS_OF = {"allow": "allowed", "deny": "denied"}
QUESTION_TOOL = "AskUserQuestion"


class ApprovalService:
    def __init__(
        self,
        store: Store,
        run_workflows: RunWorkflows,
        settings: Settings,
        notifier: Notifier | None = None,
    ):
        self._store = store
        self._workflows = run_workflows
        self._settings = settings
        self._notifier = notifier or Notifier()
        self._decided: dict[str, asyncio.Event] = {}

    async def request(self, principal: Principal, asked: Asked) -> Approval:
        """Decide by policy, or open a question for the user; either way it is recorded."""
        agent = await self._agent(principal)
        tool, tool_input = asked.tool, asked.input
        ruling = await self._rule(agent, asked)
        approval_id, ts = new_id("ap"), now()
        pending = ruling.decision == "ask"
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO approvals (id, run_id, task_id, agent_id, tool, subject, input,"
                " status, decided_by, message, created_at, expires_at, decided_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (approval_id, agent["run_id"], agent["task_id"], agent["id"], tool,
                 asked.subject, json.dumps(tool_input), "pending" if pending else
                 STATUS_OF[ruling.decision], None if pending else ruling.by,
                 "" if pending else _policy_message(tool, ruling), ts,
                 ts + ruling.timeout if pending else None, None if pending else ts),
            )  # fmt: skip
            await record_event(
                db, principal.id, "approval_asked" if pending else "approval_decided",
                run_id=agent["run_id"], task_id=agent["task_id"], approval=approval_id,
                tool=tool, decision=ruling.decision, by=ruling.by,
            )  # fmt: skip
        if pending:
            await self._notifier.questions_changed()
        return await self.get(approval_id)

    async def wait(self, principal: Principal, approval_id: str, seconds: float) -> Approval:
        """The agent's own request, once decided or after `seconds`, whichever comes first."""
        approval = await self.get(approval_id)
        if principal.role != "agent" or approval.agent_id != principal.id:
            raise NotFound(f"no approval request {approval_id!r} of yours")
        if approval.status != "pending":
            return approval
        # Take the event before reading the row again: an answer landing in between sets it.
        event = self._decided.setdefault(approval_id, asyncio.Event())
        row = await self._store.fetchone(
            "SELECT status, expires_at FROM approvals WHERE id = ?", (approval_id,)
        )
        if row is not None and row["status"] == "pending":
            left = max(0.0, float(row["expires_at"] or 0) - now())
            try:
                await asyncio.wait_for(event.wait(), timeout=min(seconds, left))
            except TimeoutError:
                await self.expire_due()
        return await self.get(approval_id)

    async def answer(
        self,
        principal: Principal,
        approval_id: str,
        decision: Literal["allow", "deny"],
        message: str = "",
        answers: dict[str, str] | None = None,
    ) -> Approval:
        """The user's decision on a pending question (AskUserQuestion takes answers)."""
        approval = await self.get(approval_id)
        answers = _checked_answers(approval, decision, answers)
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE approvals SET status = ?, decided_by = ?, message = ?, answers = ?,"
                " decided_at = ? WHERE id = ? AND status = 'pending' AND expires_at > ?",
                (STATUS_OF[decision], principal.id, _user_message(approval, decision, message),
                 json.dumps(answers) if answers else None, now(), approval_id, now()),
            )  # fmt: skip
            if cursor.rowcount == 0:
                raise Conflict(_not_pending(approval))
            await record_event(
                db, principal.id, "approval_answered", run_id=approval.run_id,
                task_id=approval.task_id, approval=approval_id, decision=decision,
            )  # fmt: skip
        self._settle(approval_id)
        await self._notifier.questions_changed()
        return await self.get(approval_id)

    async def listed(self, run_id: str | None, status: str | None, limit: int) -> list[Approval]:
        await self.expire_due()
        clauses, params = ["1 = 1"], []
        for column, value in (("run_id", run_id), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        rows = await self._store.fetchall(
            f"SELECT * FROM approvals WHERE {' AND '.join(clauses)}"
            " ORDER BY created_at DESC LIMIT ?",
            (*params, limit),
        )
        return [Approval.from_row(r) for r in rows]

    async def get(self, approval_id: str) -> Approval:
        row = await self._store.fetchone("SELECT * FROM approvals WHERE id = ?", (approval_id,))
        if row is None:
            raise NotFound(f"no approval request {approval_id!r}; list_questions shows them")
        return Approval.from_row(row)

    async def expire_due(self) -> int:
        """Deny every question whose time ran out; the waiting hooks hear it at once."""
        ts = now()
        async with self._store.transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT id, run_id, task_id, expires_at - created_at FROM approvals"
                    " WHERE status = 'pending' AND expires_at <= ?",
                    (ts,),
                )
            )
            for row in rows:
                await db.execute(
                    "UPDATE approvals SET status = 'expired', decided_by = 'timeout',"
                    " message = ?, decided_at = ? WHERE id = ?",
                    (_expired_message(float(row[3])), ts, row[0]),
                )
                await record_event(db, "hephaestus", "approval_expired", run_id=row[1],
                                   task_id=row[2], approval=row[0])  # fmt: skip
        for row in rows:
            self._settle(row[0])
        if rows:
            await self._notifier.questions_changed()
        return len(rows)

    def _settle(self, approval_id: str) -> None:
        event = self._decided.pop(approval_id, None)
        if event is not None:
            event.set()

    async def _agent(self, principal: Principal) -> aiosqlite.Row:
        if principal.role != "agent":
            raise Forbidden("only a launched agent asks for approvals (its token says which)")
        row = await self._store.fetchone(
            "SELECT a.id, a.run_id, a.task_id, a.worktree, a.session_name, t.phase"
            " FROM agents a JOIN tasks t ON t.id = a.task_id"
            " WHERE a.id = ? AND a.status = 'running'",
            (principal.id,),
        )
        if row is None:
            raise NotFound(f"agent {principal.id} is not running")
        return row

    async def _rule(self, agent: aiosqlite.Row, asked: Asked) -> Ruling:
        workflow = await self._workflows.get(agent["run_id"])
        phase = workflow.phase(agent["phase"]).approvals
        return decide(asked, self._boundary(agent), workflow.config.approvals, phase)

    def _boundary(self, agent: aiosqlite.Row) -> Boundary:
        settings = self._settings
        worktree = agent["worktree"] or str(settings.worktrees_dir / "-")
        return Boundary(
            worktree=settings.project / worktree,
            brief_dir=settings.agents_dir / agent["session_name"],
            protected=(settings.state_dir, settings.private_root, *user_secrets(Path.home())),
        )


async def cancel_pending(db: aiosqlite.Connection, agent_id: str, reason: str) -> None:
    """An agent that ended has no hook left waiting: its open questions go away with it."""
    await db.execute(
        "UPDATE approvals SET status = 'cancelled', decided_by = 'hephaestus', message = ?,"
        " decided_at = ? WHERE agent_id = ? AND status = 'pending'",
        (f"the agent ended ({reason[:200]})", now(), agent_id),
    )


async def pending_questions(store: Store, run_id: str) -> list[Approval]:
    """A run's questions still waiting for the user (ones past their time are not)."""
    rows = await store.fetchall(
        "SELECT * FROM approvals WHERE run_id = ? AND status = 'pending' AND expires_at > ?"
        " ORDER BY created_at",
        (run_id, now()),
    )
    return [Approval.from_row(r) for r in rows]


def hook_decision(approval: Approval) -> dict[str, Any] | None:
    """The PermissionRequest hook's `decision`, or None while the user has not answered."""
    if approval.status == "pending":
        return None
    if approval.status != "allowed":
        return {"behavior": "deny", "message": approval.message}
    decision: dict[str, Any] = {"behavior": "allow"}
    if approval.answers:
        decision["updatedInput"] = {**approval.input, "answers": approval.answers}
    return decision


def _checked_answers(
    approval: Approval, decision: str, answers: dict[str, str] | None
) -> dict[str, str] | None:
    """A question allowed without answers would leave the agent guessing: refuse it."""
    if approval.tool != QUESTION_TOOL:
        if answers:
            raise InvalidRequest(
                f"answers are for AskUserQuestion; {approval.id} asks about {approval.tool}:"
                " decide it with allow or deny (and a message)"
            )
        return None
    if decision == "deny":
        return None
    asked = question_texts(approval.input)
    if not answers:
        raise InvalidRequest(
            f"{approval.id} asks {asked}: pass answers={{question: answer}} with your choice"
        )
    unknown = sorted(set(answers) - set(asked))
    if unknown:
        raise InvalidRequest(f"answers name questions not asked: {unknown}; asked: {asked}")
    return answers


def _policy_message(tool: str, ruling: Ruling) -> str:
    if ruling.decision == "allow":
        return ""
    return ruling.message or (
        f"{tool} is not allowed for this task by the run's approval policy ({ruling.by}). "
        "Find another way inside your worktree, or say in your summary what you needed."
    )


def _user_message(approval: Approval, decision: str, message: str) -> str:
    if decision == "allow":
        return message
    return f"The user denied {approval.tool}" + (f": {message}" if message else ".")


def _expired_message(timeout: float) -> str:
    return (
        f"No one answered this request within {timeout:.0f}s, so it is denied. Decide without"
        " it (say what you assumed in your summary) or report what you need."
    )


def _not_pending(approval: Approval) -> str:
    if approval.status == "pending":
        return f"{approval.id} ran out of time before the answer arrived; it is denied"
    return f"{approval.id} is already {approval.status} (by {approval.decided_by})"
