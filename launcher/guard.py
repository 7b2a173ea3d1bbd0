"""The boundary of one task's step: its failure is that task's, never the launcher's.

The launcher's work is a chain of steps, each about one task (launch it, end
its session, merge its branch). A refusal from the server (a cancel landing
between claim and registration), a git or tmux error, or a fault that only
one task's data provokes (a NUL byte in a stored field makes subprocess raise
ValueError) must not end the launcher, and with it `heph up`. The step's
failure is logged with its cause, handed to a recorder that reports it
against the task (its claim given back, its agent's exit reported with the
reason), and the launcher goes on with the next task.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from heph_mcp.client import HephCallError
from launcher.git_repo import GitError
from launcher.tmux import TmuxError

log = logging.getLogger("heph.launcher")
T = TypeVar("T")
Recorder = Callable[[str], object]  # may return an awaitable (a report to the server)
# Failures whose message says it all; any other gets its type and a traceback in the log.
EXPECTED = (HephCallError, GitError, TmuxError, OSError)


def cause(exc: BaseException) -> str:
    """What went wrong, in words a task's failure reason can carry."""
    return str(exc) if isinstance(exc, EXPECTED) else f"{type(exc).__name__}: {exc}"


async def one_task(step: Awaitable[T], what: str, record: Recorder | None = None) -> T | None:
    """Run one task's step and return its result; on failure log it, record it against the
    task, and return None."""
    try:
        return await step
    except Exception as exc:  # noqa: BLE001 - the boundary of one task's step (see above)
        reason = cause(exc)
        log.error("%s failed: %s", what, reason, exc_info=not isinstance(exc, EXPECTED))
        if record is not None:
            await _record(record, reason, what)
        return None


async def _record(record: Recorder, reason: str, what: str) -> None:
    """Recording is best effort: a refused report is settled by a later pass or a restart."""
    try:
        recorded = record(reason)
        if inspect.isawaitable(recorded):
            await recorded
    except Exception as exc:  # noqa: BLE001 - the boundary of one task's step, still
        log.error("%s: its failure was not recorded (%s)", what, cause(exc))
