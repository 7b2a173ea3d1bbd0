"""HTTP endpoints for agents' permission hooks: where a dialog would have been, a decision.

Claude Code runs our hook (claude_config/permission_hook.py) instead of
showing a permission dialog; the hook posts the request here with the
agent's own bearer token and prints the decision it gets back. A question
for the user can take minutes, so the hook polls `GET .../{id}?wait=N`
rather than holding one request open: a restarted server loses nothing.
These routes are thin adapters over ApprovalService, like the MCP tools.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from claude_config.permission_hook import HOOK_PATH as PATH
from heph_mcp.board.auth import bearer_token
from heph_mcp.errors import HephError
from heph_mcp.records import Approval, Principal
from heph_mcp.services import Services
from heph_mcp.services.approval_policy import Asked
from heph_mcp.services.approvals import hook_decision

MAX_WAIT = 30.0
Resolve = Callable[[str], Awaitable[Principal | None]]


class HookRequest(BaseModel):
    """What the hook forwards of Claude Code's PermissionRequest input."""

    tool_name: str = Field(min_length=1, max_length=200)
    tool_input: dict[str, Any] = Field(default_factory=dict)
    cwd: str = Field(default="", max_length=4096)
    sandboxed: bool = False
    network: list[Annotated[str, Field(max_length=253)]] = Field(
        default_factory=lambda: ["*"], max_length=200
    )

    def as_asked(self) -> Asked:
        return Asked(self.tool_name, self.tool_input, self.cwd, self.sandboxed, tuple(self.network))


class HookRoutes:
    def __init__(self, services: Callable[[], Services | None], resolve: Resolve):
        self._services = services
        self._resolve = resolve

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PATH, self.ask, methods=["POST"]),
            Route(PATH + "/{approval_id}", self.wait, methods=["GET"]),
        ]

    async def ask(self, request: Request) -> Response:
        caller = await self._agent(request)
        if isinstance(caller, Response):
            return caller
        try:
            asked = HookRequest.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            return _error(400, f"bad permission request: {exc}"[:1000])
        return await self._call(lambda s: s.approvals.request(caller, asked.as_asked()))

    async def wait(self, request: Request) -> Response:
        caller = await self._agent(request)
        if isinstance(caller, Response):
            return caller
        try:
            seconds = min(MAX_WAIT, max(0.0, float(request.query_params.get("wait", "0"))))
        except ValueError:
            return _error(400, "wait must be a number of seconds")
        approval_id = request.path_params["approval_id"]
        return await self._call(lambda s: s.approvals.wait(caller, approval_id, seconds))

    async def _call(self, action: Callable[[Services], Any]) -> Response:
        services = self._services()
        if services is None:
            return _error(503, "the server is still starting; retry in a moment")
        try:
            approval: Approval = await action(services)
        except HephError as exc:
            return _error(409, str(exc))
        return JSONResponse(
            {"id": approval.id, "status": approval.status, "decision": hook_decision(approval)}
        )

    async def _agent(self, request: Request) -> Principal | Response:
        token = bearer_token(request)  # never the board's cookie: agents send their token
        if token is None:
            return _error(401, "send the agent's token: Authorization: Bearer <token>")
        principal = await self._resolve(token)
        if principal is None:
            return _error(401, "unknown or revoked token")
        if principal.role != "agent":
            return _error(403, "permission requests come from launched agents only")
        return principal


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
