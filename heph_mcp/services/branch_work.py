"""Which done work is on a run's branch, and holding a run's completion until all of it is.

A task's work is on `heph/<run>` when its own merge landed (merged, or nothing
new to merge), or when a task that carries it landed: a resolve or fix task
starts from the carried task's branch, so its merge brings that work along.
A validated result with stop_all completes its run only when no done work is
missing; until then the run waits, keeps only the work that can still land
the missing pieces, and completes when the last of them lands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import aiosqlite

from heph_mcp.merge_records import LANDED, PENDING_MERGES, QueuedMerge, WorkOnBranch
from heph_mcp.records import OPEN_STATUSES, iso
from heph_mcp.services.common import close_run, now, record_event
from heph_mcp.store import Store, query_all, query_one

WORK_ROWS = (
    "SELECT id, title, status, kind, merge_state, carries, validates FROM tasks"
    " WHERE run_id = ? ORDER BY created_at, rowid"
)
QUEUE_ROWS = (
    "SELECT id, run_id, title, merge_state, merge_queued_at, merge_worker FROM tasks"
    f" WHERE merge_state IN {PENDING_MERGES!r} AND {{where}} ORDER BY merge_queued_at, rowid"
)
Row = Mapping[str, Any]


async def merge_queue(store: Store, where: str, params: tuple[Any, ...]) -> list[QueuedMerge]:
    """Merges still owed, in the order their queue takes them (`where` narrows the tasks)."""
    rows = await store.fetchall(QUEUE_ROWS.format(where=where), params)
    return [
        QueuedMerge(
            task_id=r["id"], run_id=r["run_id"], title=r["title"], state=r["merge_state"],
            queued_at=iso(r["merge_queued_at"]), worker=r["merge_worker"],
        )
        for r in rows
    ]  # fmt: skip


async def run_work(store: Store, run_id: str) -> list[WorkOnBranch]:
    """Outside a transaction: every done task's work and whether it is on the branch."""
    return work_on_branch(map(dict, await store.fetchall(WORK_ROWS, (run_id,))))


def work_on_branch(rows: Iterable[Row]) -> list[WorkOnBranch]:
    """Every piece of work the run's branch owes: done tasks, and tasks whose verify sent them
    back (their work was done once), each with whether it has landed and through whom."""
    rows = list(rows)
    carriers: dict[str, list[Row]] = {}
    for row in rows:
        if row["carries"]:
            carriers.setdefault(row["carries"], []).append(row)
    owed = [r for r in rows if r["kind"] == "work" and _owes(r)]
    states = []
    for row in owed:
        by = _landed_by(row, carriers, {row["id"]})
        states.append(
            WorkOnBranch(
                task_id=row["id"], title=row["title"], status=row["status"],
                merge_state=row["merge_state"], landed=by is not None,
                carried_by=by if by not in (None, row["id"]) else None,
            )
        )  # fmt: skip
    return states


def missing(states: Iterable[WorkOnBranch]) -> list[WorkOnBranch]:
    return [s for s in states if not s.landed]


def _owes(row: Row) -> bool:
    sent_back = row["merge_state"] == "verify_failed" and row["status"] in OPEN_STATUSES
    return bool(row["status"] == "done" or sent_back)


def _landed_by(row: Row, carriers: dict[str, list[Row]], seen: set[str]) -> str | None:
    """The task whose landing put this work on the branch: itself, or a carrier (at any depth)."""
    if row["merge_state"] in LANDED:
        return str(row["id"])
    for carrier in carriers.get(row["id"], []):
        if carrier["id"] not in seen:
            found = _landed_by(carrier, carriers, seen | {carrier["id"]})
            if found is not None:
                return found
    return None


async def missing_work(db: aiosqlite.Connection, run_id: str) -> list[WorkOnBranch]:
    """Inside a transaction: the done work not on the run's branch yet."""
    return missing(work_on_branch(map(dict, await query_all(db, WORK_ROWS, (run_id,)))))


async def hold_for_merges(
    db: aiosqlite.Connection, run_id: str, owed: list[WorkOnBranch], actor: str
) -> int:
    """The answer is known but work is missing from the branch: wait for it. Open tasks that
    cannot bring the missing work are cancelled, as stop_all would; returns how many."""
    rows = [dict(r) for r in await query_all(db, WORK_ROWS, (run_id,))]
    keep = _needed_for(rows, {w.task_id for w in owed})
    marks = ",".join("?" * len(OPEN_STATUSES))
    ts = now()
    cursor = await db.execute(
        f"UPDATE tasks SET status = 'cancelled', updated_at = ?, finished_at = ?"
        f" WHERE run_id = ? AND status IN ({marks}) AND id NOT IN ({','.join('?' * len(keep))})",
        (ts, ts, run_id, *OPEN_STATUSES, *keep),
    )
    await db.execute("UPDATE runs SET awaiting_merges_since = ? WHERE id = ?", (ts, run_id))
    await record_event(
        db, actor, "run_awaiting_merges", run_id=run_id,
        missing=[w.task_id for w in owed], cancelled_tasks=cursor.rowcount,
    )  # fmt: skip
    return int(cursor.rowcount)


def _needed_for(rows: list[dict[str, Any]], owed: set[str]) -> set[str]:
    """The owed tasks, every task carrying one (at any depth), and the validators of those."""
    keep = set(owed)
    grew = True
    while grew:
        more = {r["id"] for r in rows if r["carries"] in keep or r["validates"] in keep}
        grew = not more <= keep
        keep |= more
    return keep


async def complete_if_landed(db: aiosqlite.Connection, run_id: str, actor: str) -> bool:
    """Complete a run that waits for its merges once nothing is missing; True if it did."""
    run = await query_one(
        db, "SELECT status, awaiting_merges_since FROM runs WHERE id = ?", (run_id,)
    )
    if run is None or run["status"] != "active" or run["awaiting_merges_since"] is None:
        return False
    if await missing_work(db, run_id):
        return False
    await close_run(db, run_id, "completed", actor)
    return True
