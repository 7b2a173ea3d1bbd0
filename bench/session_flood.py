"""A session flood against a real `heph serve`: how far one token gets, and whether others
still get in.

One token sends `initialize` (2025 protocol, opening a stateful session) as fast as it
can. Without an allowance it could fill the SDK's server-wide 10,000 sessions and lock
out every session-based client; with `max_sessions_per_principal` it is refused (429)
after its allowance. The baseline, in the same run, is the same flood with the
allowance raised to the SDK's cap (`--baseline`), timed over `--count` openings and
extrapolated to 10,000.

    .venv/bin/python bench/session_flood.py [--count 300]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from heph_mcp.identity import local_token  # noqa: E402
from testkit import ServerProcess  # noqa: E402

SDK_CAP = 10_000
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "flood", "version": "1"}},
}  # fmt: skip


def _headers(token: str) -> dict[str, str]:
    return {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {token}"}


async def flood(url: str, token: str, count: int) -> tuple[int, int, float]:
    """(opened, refused, seconds) for `count` openings, 8 at a time."""
    opened = refused = 0
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=30) as http:

        async def one() -> None:
            nonlocal opened, refused
            async with gate:
                response = await http.post(url, json=INIT, headers=_headers(token))
            if response.status_code == 200:
                opened += 1
            else:
                refused += 1

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return opened, refused, time.perf_counter() - start


async def other_gets_in(url: str, token: str) -> bool:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(url, json=INIT, headers=_headers(token))
    return response.status_code == 200


def measure(count: int, allowance: int | None) -> tuple[int, int, float, bool]:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        extra = project / "hephaestus.toml"
        if allowance is not None:
            extra.write_text(f"max_sessions_per_principal = {allowance}\n")
        server = ServerProcess(project)
        try:
            server.start(timeout=300)  # a slow start still ends in stop() below
            user = local_token(project / ".hephaestus" / "secrets", "user")
            ops = local_token(project / ".hephaestus" / "secrets", "ops")
            opened, refused, seconds = asyncio.run(flood(server.url, user, count))
            return opened, refused, seconds, asyncio.run(other_gets_in(server.url, ops))
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"{args.count} session openings by one token, 8 in flight")
    for column in ("server", "opened", "refused", "s", "openings/s", "10,000 in", "others"):
        table.add_column(column)
    for name, allowance in (("no allowance (SDK cap)", SDK_CAP), ("default allowance", None)):
        opened, refused, seconds, others = measure(args.count, allowance)
        rate = args.count / seconds
        table.add_row(
            name, str(opened), str(refused), f"{seconds:.2f}", f"{rate:.0f}",
            f"{SDK_CAP / rate:.0f} s" if refused == 0 else "never", "yes" if others else "no",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
