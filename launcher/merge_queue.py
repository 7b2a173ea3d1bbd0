"""Each run's merges, one at a time and in order, each checked before the run's branch moves.

A finished task's branch joins its run's queue; one worker per run takes the
queue in order (runs merge in parallel). A merge is made on objects alone;
when the task's workflow names a verify command, the merged tree is checked
out in the run's scratch worktree and the command runs there (never holding
the repository's lock). Only a passing tree moves `heph/<run>`, by
compare-and-swap; a failing one leaves the branch where it was and the server
sends the task back or queues a fix. Every step is reported to the server, so
`heph status` and the board show the queue. Land requests for a run go
through the same queue, after the merges before them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heph_mcp.client import HephCallError, HephClient
from heph_mcp.services.common import task_branch
from heph_mcp.settings import Settings
from launcher import land
from launcher.git_repo import GitError, GitRepo, MergeOutcome, run_branch
from launcher.verify import VerifyOutcome, run_verify

log = logging.getLogger("heph.merge_queue")
Observer = Callable[[str, dict[str, Any]], None]
CAS_TRIES = 5


@dataclass(frozen=True)
class MergeJob:
    run_id: str
    task_id: str
    title: str
    verify: dict[str, Any] | None


@dataclass(frozen=True)
class LandJob:
    run_id: str
    request_id: str
    into: str | None


Job = MergeJob | LandJob


class MergeQueue:
    def __init__(
        self,
        repo: GitRepo,
        client: HephClient,
        settings: Settings,
        observe: Observer | None = None,
    ):
        self._repo = repo
        self._client = client
        self._settings = settings
        self._observe = observe or (lambda kind, data: None)
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    async def submit(self, run_id: str, task_id: str, title: str) -> None:
        """Queue a finished task's branch; the server's answer names the check it must pass."""
        answer = await self._client.call(
            "record_merge", task_id=task_id, state="queued", worker=self._settings.worker_id
        )
        self._put(MergeJob(run_id, task_id, title, answer.get("verify")))

    async def resume(self) -> None:
        """Queue again what a stopped launcher of this worker left queued or verifying."""
        pending = await self._client.call("pending_merges", worker=self._settings.worker_id)
        for merge in pending.get("merges", []):
            await self.submit(merge["run_id"], merge["task_id"], merge["title"])

    def land(self, request: dict[str, Any]) -> None:
        self._put(LandJob(request["run_id"], request["id"], request.get("into_branch")))

    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values()) + len(self._workers)

    async def drain(self) -> None:
        """Wait until every queue is empty (tests and benches; the launcher never waits)."""
        while self._workers:
            await asyncio.wait(list(self._workers.values()))

    async def close(self) -> None:
        """Stop every worker; a merge cut short stays queued on the server for the next start."""
        for worker in list(self._workers.values()):
            worker.cancel()
        for worker in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._queues.clear()
        await self.clear_scratch()

    async def clear_scratch(self) -> None:
        """Remove every scratch worktree (a launcher that stopped mid-check leaves one)."""
        root = self._scratch_root()
        for path in sorted(root.iterdir()) if root.is_dir() else []:
            await self._repo.call("remove_worktree", path)
            await asyncio.to_thread(shutil.rmtree, path, True)

    def _put(self, job: Job) -> None:
        self._queues.setdefault(job.run_id, deque()).append(job)
        if job.run_id not in self._workers:
            self._workers[job.run_id] = asyncio.create_task(self._work(job.run_id))

    async def _work(self, run_id: str) -> None:
        """Take the run's queue in order; leave when it is empty (no await between the last
        look and leaving, so a job put meanwhile always finds a worker)."""
        queue = self._queues[run_id]
        try:
            while True:
                while queue:
                    await self._do(queue.popleft())
                await self._repo.call("remove_worktree", self._scratch(run_id))
                if not queue:
                    return
        finally:
            del self._workers[run_id]

    async def _do(self, job: Job) -> None:
        try:
            if isinstance(job, LandJob):
                await self._land(job)
            else:
                await self._merge(job)
        except (GitError, HephCallError, OSError) as exc:
            # It stays queued on the server, where status shows it; a restart retries it.
            log.error("merge queue of %s: %s", job.run_id, exc)
            self._observe("merge_error", {"run_id": job.run_id, "error": str(exc)})

    async def _merge(self, job: MergeJob) -> None:
        target, source = run_branch(job.run_id), task_branch(job.run_id, job.task_id)
        for _ in range(CAS_TRIES):
            old = await self._repo.call("resolve", f"refs/heads/{target}")
            new = await self._repo.call("resolve", f"refs/heads/{source}")
            if old is None:
                raise GitError(f"the run's branch {target} is missing")
            if new is None:
                log.warning("%s is gone; nothing of task %s to merge", source, job.task_id)
                await self._finish(job, MergeOutcome("nothing"), None)
                return
            message = f"Merge task {job.task_id}: {job.title}"
            outcome = await self._repo.call("merge_commit", old, new, message)
            if outcome.state != "merged":
                await self._finish(job, outcome, None)
                return
            check = await self._verify(job, outcome.commit) if job.verify else None
            if check is not None and not check["passed"]:
                await self._report(job, "verify_failed", check=check)
                return
            if await self._repo.call("advance", target, outcome.commit, old):
                await self._finish(job, outcome, check)
                return
            log.info("%s moved during the merge of %s; merging again", target, job.task_id)
        raise GitError(f"{target} kept moving; task {job.task_id} stays queued")

    async def _finish(self, job: MergeJob, outcome: MergeOutcome, check: Any) -> None:
        """Report the outcome; a landed branch goes (its commits live on in heph/<run>), a
        conflicted one stays for the task that resolves it."""
        await self._report(
            job, outcome.state, commit=outcome.commit, conflicts=outcome.conflicts, check=check
        )
        if outcome.state != "conflict":
            await self._repo.call("delete_branch", task_branch(job.run_id, job.task_id))
        self._observe("merged", {"task_id": job.task_id, "state": outcome.state, "at": time.time()})

    async def _verify(self, job: MergeJob, commit: str) -> dict[str, Any]:
        """Check out the merged tree in the run's scratch worktree and run the command there;
        the server hears "verifying" while the checkout happens."""
        assert job.verify is not None
        reporting = asyncio.create_task(self._report(job, "verifying"))
        started = time.monotonic()
        try:
            scratch = self._scratch(job.run_id)
            await self._repo.call("checkout_scratch", scratch, commit)
            name = f"verify-{job.run_id}-{job.task_id}-{time.strftime('%Y%m%d-%H%M%S')}.log"
            outcome = await run_verify(
                job.verify["command"], scratch, float(job.verify["timeout"]),
                dict(os.environ), self._settings.logs_dir / name,
            )  # fmt: skip
        finally:
            await reporting
        gate = time.monotonic() - started
        self._observe("verified", {"task_id": job.task_id, "passed": outcome.passed,
                                   "gate": gate, "command": outcome.seconds})  # fmt: skip
        return _check(job.verify["command"], outcome)

    async def _land(self, job: LandJob) -> None:
        outcome = await asyncio.to_thread(land.land, self._repo, job.run_id, job.into)
        await self._client.call(
            "record_land", request_id=job.request_id, state=outcome.state,
            message=outcome.message, commit=outcome.commit,
        )  # fmt: skip

    async def _report(self, job: MergeJob, state: str, **fields: Any) -> None:
        await self._client.call("record_merge", task_id=job.task_id, state=state, **fields)

    def _scratch_root(self) -> Path:
        return self._settings.state_dir / "scratch"

    def _scratch(self, run_id: str) -> Path:
        return self._scratch_root() / run_id


def _check(command: str, outcome: VerifyOutcome) -> dict[str, Any]:
    """The server's MergeCheck record of one verify run."""
    return {
        "command": command, "passed": outcome.passed, "exit_code": outcome.exit_code,
        "timed_out": outcome.timed_out, "seconds": round(outcome.seconds, 3),
        "output": outcome.tail, "log": str(outcome.log),
    }  # fmt: skip
