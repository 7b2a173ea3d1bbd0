"""Run a workflow's verify command on a merged tree: the one place the launcher runs it.

Everything that decides *how* the command runs (shell, environment, limits,
later a sandbox) lives in `run_verify`, so the merge queue never needs to
change for it. The whole output goes to a log file; the outcome carries its
end, which is what an agent reads when its work is sent back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from heph_mcp.printable import printable

TAIL_CHARS = 6000


@dataclass(frozen=True)
class VerifyOutcome:
    passed: bool
    exit_code: int | None  # None when the command was stopped at its timeout
    timed_out: bool
    seconds: float  # the command's own run time, from start to exit
    tail: str  # the end of its output (stdout and stderr interleaved)
    log: Path


async def run_verify(
    command: str,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str],
    log: Path,
    confine: Callable[[list[str]], list[str]] | None = None,
) -> VerifyOutcome:
    """`sh -c command` in `cwd`, in its own process group, with no input; killed whole at the
    timeout or when the caller is cancelled (a stopping launcher), so nothing outlives it.

    `confine` wraps the command line in the agents' sandbox: the command runs code the
    agents wrote, and must see no more than they do."""
    argv = ["/bin/sh", "-c", command]
    if confine is not None:
        argv = confine(argv)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
            stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            code: int | None = await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            code = None
        finally:
            _kill_group(process.pid)
            await process.wait()
        seconds = time.monotonic() - started
    tail = _tail(log)
    if code is None:
        tail += f"\n[stopped by Hephaestus after {timeout:g}s: the verify timeout]"
    return VerifyOutcome(code == 0, code, code is None, seconds, tail, log)


def _kill_group(pid: int) -> None:
    """Stop whatever the command left running (a server a test started, a hung child)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(log: Path) -> str:
    with log.open("rb") as handle:
        handle.seek(max(0, log.stat().st_size - TAIL_CHARS))
        # Test runners colour their output: the tail is sent to the server, which takes
        # printable text only, and shown in terminals.
        return printable(handle.read().decode("utf-8", errors="replace"))
