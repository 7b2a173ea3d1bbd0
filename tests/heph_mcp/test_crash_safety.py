"""kill -9 during a burst of create_task: every acknowledged task survives, the file is sound."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from heph_mcp.client import HephCallError, HephClient
from heph_mcp.identity import local_token
from testkit import ServerProcess

pytestmark = pytest.mark.slow
WRITERS = 8
KILL_AFTER = 120


async def _burst(url: str, token: str, run_id: str, acked: list[str], enough: asyncio.Event):
    async def writer(n: int) -> None:
        async with HephClient(url, token) as client:
            for i in range(10_000):
                task = await client.create_task(
                    run_id, phase=2, title=f"w{n} #{i}", description="burst " * 20
                )
                acked.append(task["id"])
                if len(acked) >= KILL_AFTER:
                    enough.set()

    results = await asyncio.gather(*(writer(n) for n in range(WRITERS)), return_exceptions=True)
    return results


async def test_acknowledged_tasks_survive_a_kill_9(tmp_path):
    server = ServerProcess(tmp_path).start()
    token = local_token(tmp_path / ".hephaestus" / "secrets", "user")
    acked: list[str] = []
    enough = asyncio.Event()
    try:
        async with HephClient(server.url, token) as client:
            run_id = (await client.start_workflow("bug_fix", "crash test"))["run_id"]
        burst = asyncio.create_task(_burst(server.url, token, run_id, acked, enough))
        await asyncio.wait_for(enough.wait(), timeout=120)
        server.kill()
        results = await asyncio.wait_for(burst, timeout=60)
    finally:
        server.stop()
    assert all(isinstance(r, BaseException) for r in results), "writers must see the crash"
    assert not any(isinstance(r, HephCallError) for r in results), results

    restarted = ServerProcess(tmp_path).start()
    try:
        async with HephClient(restarted.url, token) as client:
            status = await client.status(run_id)
    finally:
        restarted.stop()
    stored = {t["id"] for p in status["runs"][0]["phases"] for t in p["tasks"]}
    assert len(acked) >= KILL_AFTER
    assert set(acked) <= stored
    with sqlite3.connect(tmp_path / ".hephaestus" / "heph.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
