"""`GET /api/status`: the swarm at a glance as JSON, for curl, scripts and dashboards.

MCP hosts have `workflow_status`; a shell has curl. This answers the same question
(which runs, how many tasks in each status, which agents and what the Guardian last
thought of each) from the same services, behind the user's token: the status shows
every run, which only the user may see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from heph_mcp.board.auth import NO_STORE, Resolve, bearer_token
from heph_mcp.errors import NotFound
from heph_mcp.records import Agent, GuardianNote, RunStatus
from heph_mcp.services import Services

NO_TOKEN = (
    "send your user token: Authorization: Bearer <token> (`heph mcp-config` prints it;"
    " it is in .hephaestus/secrets/user.token)"
)


class ApiRoutes:
    """The JSON API's routes, bound to a server's services once they exist."""

    def __init__(self, services: Callable[[], Services | None], resolve: Resolve):
        self._services = services
        self._resolve = resolve

    def routes(self) -> list[BaseRoute]:
        return [Route("/api/status", self.status, methods=["GET"])]

    async def status(self, request: Request) -> Response:
        """Every run (or `?run=ID`) with its tasks by status and its running agents."""
        refused = await self._refusal(bearer_token(request))
        if refused is not None:
            return refused
        services = self._services()
        if services is None:
            return _error("the server is starting or stopping; try again", 503)
        try:
            statuses = await services.runs.status(request.query_params.get("run"))
        except NotFound as exc:
            return _error(str(exc), 404)
        agents = await services.agents.running()
        return JSONResponse(status_document(statuses, agents), headers=NO_STORE)

    async def _refusal(self, token: str | None) -> Response | None:
        """401 without a known token, 403 for an agent's or ops token, None for the user."""
        if not token:
            return _error(NO_TOKEN, 401)
        principal = await self._resolve(token)
        if principal is None:
            return _error("that token is unknown; " + NO_TOKEN, 401)
        if principal.role != "user":
            return _error(f"the status is for the user's token; this one is {principal.role}", 403)
        return None


def status_document(statuses: list[RunStatus], agents: list[Agent]) -> dict[str, Any]:
    """Runs, task counts by status (per run and in all), and agents with the Guardian's view."""
    notes = {n.agent_id: n for s in statuses if s.guardian for n in s.guardian.notes}
    titles = {t.id: t.title for s in statuses for p in s.phases for t in p.tasks}
    runs = [_run(status) for status in statuses]
    totals: dict[str, int] = {}
    for run in runs:
        for state, count in run["tasks"].items():
            totals[state] = totals.get(state, 0) + count
    run_ids = {status.run.id for status in statuses}
    return {
        "runs": runs,
        "tasks": dict(sorted(totals.items())),
        "agents": [
            _agent(agent, titles.get(agent.task_id, ""), notes.get(agent.id))
            for agent in agents
            if agent.run_id in run_ids
        ],
    }


def _run(status: RunStatus) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for phase in status.phases:
        for state, count in phase.counts.items():
            counts[state] = counts.get(state, 0) + count
    return {
        **status.run.model_dump(),
        "tasks": dict(sorted(counts.items())),
        "phases": [{"id": p.phase, "name": p.name, "tasks": p.counts} for p in status.phases],
        "results": [r.model_dump(include={"id", "status", "task_id"}) for r in status.results],
    }


def _agent(agent: Agent, title: str, note: GuardianNote | None) -> dict[str, Any]:
    guardian = None
    if note is not None:
        guardian = note.model_dump(include={"state", "alignment", "summary", "judge", "at"})
    return {
        **agent.model_dump(
            include={
                "id",
                "run_id",
                "task_id",
                "session_name",
                "worker",
                "cli",
                "started_at",
                "last_seen_at",
                "task_status",
            }
        ),  # fmt: skip
        "task_title": title,
        "guardian": guardian,
    }


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=NO_STORE)
