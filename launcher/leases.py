"""This worker's leases on its tasks, kept fresh.

Every `claim_task` first expires the leases that ran out, this worker's own
included: a launcher back from a stop longer than `lease_seconds`, or one whose
last pass took that long, would see its own live agents ended and their tasks
run again. So leases are renewed every third of a lease, at once when a
launcher starts (before it adopts or claims anything), and before any claim
when a renewal is due.
"""

from __future__ import annotations

import logging
import time

from heph_mcp.client import HephCallError, HephClient

log = logging.getLogger("heph.launcher")


class Leases:
    def __init__(self, client: HephClient, worker: str, seconds: float):
        self._client = client
        self._worker = worker
        self._every = seconds / 3
        self._due = 0.0

    async def renew(self, *, force: bool = False) -> bool:
        """Renew when due (or now, with `force`). False when the server refused: claiming
        then could expire this worker's own leases, so the caller waits for the next pass."""
        now = time.monotonic()
        if not force and now < self._due:
            return True
        try:
            await self._client.call("renew_leases", worker=self._worker)
        except HephCallError as exc:
            log.warning("leases of %s not renewed (retried soon): %s", self._worker, exc)
            return False
        self._due = now + self._every
        return True
