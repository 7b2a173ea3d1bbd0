"""The board's live view: a task's detail on request, running agents' pane tails on the
event stream. Both read the service layer; tmux and git stay with the launchers, which
report what they see through `report_live_view`."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from heph_mcp.board.auth import NO_STORE
from heph_mcp.board.sse import PaneFeed
from heph_mcp.errors import HephError
from heph_mcp.records import Principal
from heph_mcp.services import Services
from heph_mcp.services.task_detail import task_detail

TAIL_FIELDS = {"agent_id", "task_id", "run_id", "text", "at"}


def pane_feed(services: Services) -> PaneFeed:
    def since(seq: int) -> tuple[int, list[dict[str, Any]]]:
        changed = services.live.changed_since(seq)
        if not changed:
            return seq, []
        return changed[-1].seq, [t.model_dump(include=TAIL_FIELDS) for t in changed]

    return since


async def task_detail_response(services: Services, caller: Principal, task_id: str) -> Response:
    try:
        detail = await task_detail(services, caller, task_id)
    except HephError as exc:
        return JSONResponse({"error": str(exc)}, status_code=404, headers=NO_STORE)
    return JSONResponse(detail.model_dump(mode="json"), headers=NO_STORE)
