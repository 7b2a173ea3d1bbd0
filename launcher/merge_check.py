"""The verify check of a merge: the merged tree in the run's scratch worktree, the command run
there by launcher/verify.py, and the record the server keeps of it.

Each run has one scratch worktree, made at its first check and reused: checking
out the next merged tree touches only the files that differ, and cleaning what
the last command left happens while the queue moves on. It goes when its
queue has been idle a while (see MergeQueue), and at every launcher start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from heph_mcp.settings import Settings
from launcher.git_repo import GitError, GitRepo
from launcher.sandbox import bwrap_argv, check_env, check_plan
from launcher.verify import VerifyOutcome, run_verify

log = logging.getLogger("heph.merge_queue")
# The server hears "verifying" only once a check has run this long: a quick check is over
# before anyone could see it, and its report would cost more than the check itself.
REPORT_AFTER = 0.2
Observer = Callable[[str, dict[str, Any]], None]


class MergeChecks:
    def __init__(self, repo: GitRepo, settings: Settings, observe: Observer):
        self._repo = repo
        self._settings = settings
        self._observe = observe
        self._cleaning: dict[str, asyncio.Task[None]] = {}

    async def run(
        self,
        run_id: str,
        task_id: str,
        verify: dict[str, Any],
        commit: str,
        slow: Callable[[], Awaitable[None]],
    ) -> dict[str, Any]:
        """Check `commit`; `slow` (the "verifying" report) is called if the check takes long.

        Returns the server's MergeCheck record of it."""
        scratch = self._scratch(run_id)
        sending = asyncio.Event()
        reporting = asyncio.create_task(_after(REPORT_AFTER, sending, slow))
        started = time.monotonic()
        try:
            await self._cleaned(run_id)
            await self._repo.call("checkout_scratch", scratch, commit)
            name = f"verify-{run_id}-{task_id}-{time.strftime('%Y%m%d-%H%M%S')}.log"
            outcome = await run_verify(
                verify["command"], scratch, float(verify["timeout"]), check_env(os.environ),
                self._settings.logs_dir / name, self._confine(scratch),
            )  # fmt: skip
        finally:
            self._cleaning[run_id] = asyncio.create_task(self._repo.call("clean_scratch", scratch))
            await _settle(reporting, sending)
        gate = time.monotonic() - started
        self._observe("verified", {"task_id": task_id, "passed": outcome.passed, "gate": gate,
                                   "command": outcome.seconds})  # fmt: skip
        return _record(verify["command"], outcome)

    def _confine(self, scratch: Path) -> Callable[[list[str]], list[str]] | None:
        """The check runs inside the agents' sandbox unless the user turned it off."""
        if not self._settings.agent_sandbox:
            return None
        plan = check_plan(self._settings, scratch, self._repo.common_dir)
        return lambda argv: bwrap_argv(plan, argv)

    async def drop(self, run_id: str) -> None:
        """Remove the run's scratch worktree once its queue is idle."""
        await self._cleaned(run_id)
        await self._repo.call("remove_worktree", self._scratch(run_id))

    async def clear(self) -> None:
        """Remove every scratch worktree (a launcher that stopped mid-check leaves one)."""
        for run_id in list(self._cleaning):
            await self._cleaned(run_id)
        root = self._settings.state_dir / "scratch"
        for path in sorted(root.iterdir()) if root.is_dir() else []:
            await self._repo.call("remove_worktree", path)
            await asyncio.to_thread(shutil.rmtree, path, True)

    async def _cleaned(self, run_id: str) -> None:
        """Wait for the scratch's cleaning; if it failed, the next check gets a new scratch."""
        cleaning = self._cleaning.pop(run_id, None)
        try:
            if cleaning is not None:
                await cleaning
        except GitError as exc:
            log.warning("scratch of %s not cleaned (%s); making a new one", run_id, exc)
            await self._repo.call("remove_worktree", self._scratch(run_id))

    def _scratch(self, run_id: str) -> Path:
        return self._settings.state_dir / "scratch" / run_id


async def _after(
    delay: float, sending: asyncio.Event, report: Callable[[], Awaitable[None]]
) -> None:
    await asyncio.sleep(delay)
    sending.set()
    await report()


async def _settle(reporting: asyncio.Task[None], sending: asyncio.Event) -> None:
    """A report not sent yet is dropped; one under way is waited for, so the outcome's report
    never overtakes it."""
    if not sending.is_set():
        reporting.cancel()
    try:
        await reporting
    except asyncio.CancelledError:
        if sending.is_set():
            raise  # not our cancel: the caller is being stopped


def _record(command: str, outcome: VerifyOutcome) -> dict[str, Any]:
    return {
        "command": command, "passed": outcome.passed, "exit_code": outcome.exit_code,
        "timed_out": outcome.timed_out, "seconds": round(outcome.seconds, 3),
        "output": outcome.tail, "log": str(outcome.log),
    }  # fmt: skip
