"""Start a Guardian for a project: connect as ops, pick the judge, look every interval."""

from __future__ import annotations

import asyncio
import logging

from guardian.guardian import Guardian
from guardian.llm_judges import make_judge
from heph_mcp.client import HephClient
from heph_mcp.identity import local_token
from heph_mcp.serve import running_url
from heph_mcp.settings import Settings
from launcher.tmux import Tmux

log = logging.getLogger("heph.guardian")


async def run_guardian(
    settings: Settings, stop: asyncio.Event, *, url: str | None = None, token: str | None = None
) -> None:
    """`token`: the ops token of a server on another host (heph worker); else the local one."""
    key = settings.guardian_api_key.get_secret_value() if settings.guardian_api_key else None
    judge = make_judge(
        settings.guardian_judge, settings.guardian_model, key, settings.guardian_base_url
    )
    log.info("guardian judge: heuristics%s", f" + {judge.name}" if judge else " only")
    url = url or running_url(settings) or settings.url
    token = token or local_token(settings.secrets_dir, "ops")
    async with HephClient(url, token) as client:
        guardian = Guardian(
            client,
            Tmux(settings.tmux_socket),
            worker=settings.worker_id,
            llm=judge,
            cancel_duplicates=settings.guardian_cancel_duplicates,
        )
        await guardian.run(stop, settings.guardian_interval)
