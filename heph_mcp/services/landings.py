"""Landing a run: merging `heph/<run>` into the user's branch, only when the user asks.

The server never touches git (the launcher owns the repository), so a land
request is stored here and carried out by a launcher, through the run's merge
queue, which reports the outcome back. The user's call waits a little for
that answer so a chat can say "landed" rather than "asked".
"""

from __future__ import annotations

import asyncio
import contextlib

import aiosqlite

from heph_mcp.errors import Conflict, NotFound
from heph_mcp.merge_records import LandRequest
from heph_mcp.notify import Notifier
from heph_mcp.records import Principal, iso
from heph_mcp.services.common import new_id, now, record_event
from heph_mcp.store import Store, query_all, query_one

FINISHED = ("landed", "nothing", "refused")


class LandService:
    def __init__(self, store: Store, notifier: Notifier | None = None):
        self._store = store
        self._notifier = notifier or Notifier()
        self._answered: dict[str, asyncio.Event] = {}

    async def request(
        self, principal: Principal, run_id: str, into: str | None, wait: float
    ) -> LandRequest:
        """Ask the launchers to land the run; wait up to `wait` seconds for the outcome."""
        if await self._store.fetchone("SELECT id FROM runs WHERE id = ?", (run_id,)) is None:
            raise NotFound(f"no run {run_id!r}; workflow_status lists the runs")
        request_id, ts = new_id("land"), now()
        answered = self._answered[request_id] = asyncio.Event()
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO land_requests (id, run_id, into_branch, state, requested_by,"
                " created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                (request_id, run_id, into, principal.id, ts, ts),
            )
            await record_event(db, principal.id, "land_requested", run_id=run_id, into=into)
        await self._notifier.queue_changed()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answered.wait(), timeout=wait)
        finally:
            del self._answered[request_id]
        return await self.get(request_id)

    async def claim(self, worker: str) -> list[LandRequest]:
        """Hand the pending requests (and this worker's unfinished ones) to one launcher."""
        async with self._store.transaction() as db:
            rows = await query_all(
                db,
                "SELECT id FROM land_requests WHERE state = 'pending'"
                " OR (state = 'claimed' AND worker = ?) ORDER BY created_at",
                (worker,),
            )
            ids = [r["id"] for r in rows]
            await db.executemany(
                "UPDATE land_requests SET state = 'claimed', worker = ?, updated_at = ?"
                " WHERE id = ?",
                [(worker, now(), i) for i in ids],
            )
        return [await self.get(i) for i in ids]

    async def record(
        self, principal: Principal, request_id: str, state: str, commit: str | None, message: str
    ) -> LandRequest:
        """The launcher's outcome; answers the user's call if it is still waiting."""
        async with self._store.transaction() as db:
            row = await _row(db, request_id)
            if row["state"] in FINISHED:
                raise Conflict(f"land request {request_id} is already {row['state']}")
            await db.execute(
                "UPDATE land_requests SET state = ?, commit_sha = ?, message = ?, updated_at = ?"
                " WHERE id = ?",
                (state, commit, message, now(), request_id),
            )
            await record_event(db, principal.id, f"land_{state}", run_id=row["run_id"],
                               commit=commit, message=message)  # fmt: skip
        if request_id in self._answered:
            self._answered[request_id].set()
        return await self.get(request_id)

    async def get(self, request_id: str) -> LandRequest:
        row = await self._store.fetchone("SELECT * FROM land_requests WHERE id = ?", (request_id,))
        if row is None:
            raise NotFound(f"no land request {request_id!r}")
        return _request(row)

    async def of_run(self, run_id: str, limit: int = 5) -> list[LandRequest]:
        rows = await self._store.fetchall(
            "SELECT * FROM land_requests WHERE run_id = ? ORDER BY created_at DESC LIMIT ?",
            (run_id, limit),
        )
        return [_request(r) for r in rows]


async def _row(db: aiosqlite.Connection, request_id: str) -> aiosqlite.Row:
    row = await query_one(db, "SELECT * FROM land_requests WHERE id = ?", (request_id,))
    if row is None:
        raise NotFound(f"no land request {request_id!r}")
    return row


def _request(row: aiosqlite.Row) -> LandRequest:
    return LandRequest(
        id=row["id"], run_id=row["run_id"], into_branch=row["into_branch"], state=row["state"],
        worker=row["worker"], commit=row["commit_sha"], message=row["message"],
        created_at=iso(row["created_at"]), updated_at=iso(row["updated_at"]),
    )  # fmt: skip
