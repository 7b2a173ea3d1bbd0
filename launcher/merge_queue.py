"""Each run's merges, one at a time and in order, each checked before the run's branch moves.

A finished task's branch joins its run's queue; one worker per run takes the
queue in order (runs merge in parallel), passing over a merge that waits for
the work its task started from (its creator's, its dependencies') until that
work has landed by its own merge, or never will. A merge is made on objects alone;
when the task's workflow names a verify command, the merged tree is checked
(launcher/merge_check.py) and only a passing tree moves `heph/<run>`, by
compare-and-swap. A failing one leaves the branch where it was, and the
server sends the task back or queues a fix. Every step is reported to the
server, so `heph status` and the board show the queue; what follows a merge
(its report, deleting its branch) runs behind the next merge, in order. Land
requests for a run go through the same queue, after the merges before them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from heph_mcp.client import HephCallError, HephClient
from heph_mcp.services.common import task_branch
from heph_mcp.settings import Settings
from launcher import land
from launcher.git_repo import GitError, GitRepo, MergeOutcome, run_branch
from launcher.guard import EXPECTED, cause, one_task
from launcher.merge_check import MergeChecks, Observer

log = logging.getLogger("heph.merge_queue")
CAS_TRIES = 5
BATCH = 16  # merges checked together at most, when that many wait
SCRATCH_IDLE = 300.0  # seconds a run's queue stays idle before its scratch worktree goes
Step = Callable[[], Awaitable[None]] | None
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
__all__ = ["MergeQueue", "Observer"]


@dataclass(frozen=True)
class MergeJob:
    run_id: str
    task_id: str
    title: str
    verify: dict[str, Any] | None
    after: tuple[tuple[str, str], ...] = ()  # (task, commit) of the work it started from


def merge_message(job: MergeJob) -> str:
    """The merge commit's message, its title's control characters made spaces: a NUL cannot
    pass through git's argv at all, and escapes would reach every terminal showing the log."""
    return f"Merge task {job.task_id}: {CONTROL.sub(' ', job.title)}"


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
        self._worker_id = settings.worker_id
        self._observe = observe or (lambda kind, data: None)
        self._checks = MergeChecks(repo, settings, self._observe)
        self._queues: dict[str, deque[Job]] = {}
        self._wakes: dict[str, asyncio.Event] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._pending = 0
        self._drained = asyncio.Event()
        self._drained.set()

    async def submit(self, run_id: str, task_id: str, title: str) -> None:
        """Queue a finished task's branch and start on it when its turn comes."""
        self.put(await self.enqueue(run_id, task_id, title))

    async def enqueue(self, run_id: str, task_id: str, title: str) -> MergeJob:
        """Tell the server the branch is queued; its answer names the check the merge must pass
        and the work it waits for. `put` starts it (after its agent's exit is reported)."""
        answer = await self._client.call(
            "record_merge", task_id=task_id, state="queued", worker=self._worker_id
        )
        after = tuple((s["task_id"], s["commit"]) for s in answer.get("after", []))
        return MergeJob(run_id, task_id, title, answer.get("verify"), after)

    def put(self, job: MergeJob) -> None:
        """Queue a merge, unless the same task's waits already (a restarted launcher queues
        again both what the server lists as pending and what its adopted sessions finished)."""
        queued = self._queues.get(job.run_id, ())
        if not any(isinstance(j, MergeJob) and j.task_id == job.task_id for j in queued):
            self._put(job)

    async def resume(self) -> None:
        """Queue again what a stopped launcher of this worker left queued or verifying."""
        await self._checks.clear()
        pending = await self._client.call("pending_merges", worker=self._worker_id)
        for merge in pending.get("merges", []):
            await one_task(
                self.submit(merge["run_id"], merge["task_id"], merge["title"]),
                f"queueing again the merge of {merge['task_id']}",
            )

    async def take_handed_over(self) -> None:
        """Queue the merges workers on other hosts handed over after pushing their branches
        here: this host holds the repository of record, so it merges (launcher/remote.py)."""
        try:
            taken = await self._client.call("take_merges", worker=self._worker_id)
        except HephCallError as exc:
            log.warning("handed-over merges not taken: %s", exc)
            return
        for merge in taken.get("merges", []):
            await self.submit(merge["run_id"], merge["task_id"], merge["title"])

    def land(self, request: dict[str, Any]) -> None:
        self._put(LandJob(request["run_id"], request["id"], request.get("into_branch")))

    def poke(self) -> None:
        """Something changed on the server (a task failed or was cancelled): merges waiting
        for its work look again."""
        for wake in self._wakes.values():
            wake.set()

    async def drain(self) -> None:
        """Wait until every queued job and its report are done (tests and benches)."""
        await self._drained.wait()

    async def close(self) -> None:
        """Stop every worker; a merge cut short stays queued on the server for the next start."""
        for worker in list(self._workers.values()):
            worker.cancel()
        for worker in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self._tails:  # the reports of merges already made: quick, and the server needs them
            await asyncio.wait(list(self._tails.values()), timeout=30)
        self._queues.clear()
        await self._checks.clear()

    def _put(self, job: Job) -> None:
        self._pending += 1
        self._drained.clear()
        self._queues.setdefault(job.run_id, deque()).append(job)
        self._wakes.setdefault(job.run_id, asyncio.Event()).set()
        if job.run_id not in self._workers:
            self._workers[job.run_id] = asyncio.create_task(self._work(job.run_id))

    async def _work(self, run_id: str) -> None:
        """Take the run's queue in order, each time the first job that is ready; sleep until a
        job is put or the queue is poked; after SCRATCH_IDLE seconds with an empty queue, drop
        the scratch and leave (no await between the last look and leaving, so a job put
        meanwhile always finds a worker)."""
        queue, wake = self._queues[run_id], self._wakes[run_id]
        try:
            while True:
                wake.clear()
                job = await self._next_ready(queue)
                if job is not None:
                    self._then(run_id, await self._do(job))
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), SCRATCH_IDLE)
                except TimeoutError:
                    if not queue:
                        await self._checks.drop(run_id)
                        if not queue:
                            return
        finally:
            del self._workers[run_id]

    async def _next_ready(self, queue: deque[Job]) -> Job | None:
        for job in list(queue):
            if isinstance(job, LandJob) or await self._ready(job):
                queue.remove(job)
                return job
        return None

    async def _ready(self, job: MergeJob) -> bool:
        """The work `job` started from is on the run's branch, or will never be (its task
        failed or was cancelled): merging it first would land that work before its own merge
        and its validation."""
        if not job.after:
            return True
        tip = await self._repo.call("resolve", f"refs/heads/{run_branch(job.run_id)}")
        for task_id, commit in job.after:
            if tip is not None and await self._repo.call("is_ancestor", commit, tip):
                continue
            try:
                source = await self._client.call("get_task", task_id=task_id)
            except HephCallError:
                continue  # a task the server no longer knows holds nothing back
            if source["status"] not in ("failed", "cancelled", "duplicate"):
                return False
        return True

    async def _do(self, job: Job) -> Step:
        """Do one job; returns what must follow it (reports), run behind the next job."""
        try:
            if isinstance(job, LandJob):
                await self._land(job)
                return None
            return await self._merge(job)
        except Exception as exc:  # noqa: BLE001 - the boundary of one job: it fails alone
            # It stays queued on the server, where status shows it; a restart retries it.
            log.error("merge queue of %s: %s", job.run_id, cause(exc),
                      exc_info=not isinstance(exc, EXPECTED))  # fmt: skip
            self._observe("merge_error", {"run_id": job.run_id, "error": cause(exc)})
            return None

    async def _merge(self, job: MergeJob) -> Step:
        """Merge one job, or, when it has a check and others wait behind it, a batch: their
        merges made one on another and the last tree checked once, so heph/<run> moves over
        all of them in one compare-and-swap. A failing batch is retried with the job alone."""
        target, source = run_branch(job.run_id), task_branch(job.run_id, job.task_id)
        alone = False
        for _ in range(CAS_TRIES):
            tips = await self._repo.call("tips", target, source)
            old, new = tips[target], tips[source]
            if old is None:
                raise GitError(f"the run's branch {target} is missing")
            if new is None:
                log.warning("%s is gone; nothing of task %s to merge", source, job.task_id)
                return self._finish(job, MergeOutcome("nothing"), None)
            message = merge_message(job)
            outcome = await self._repo.call("merge_commit", old, new, message)
            if outcome.state != "merged":
                return self._finish(job, outcome, None)
            batch = [(job, outcome)] + ([] if alone else await self._riders(job, outcome.commit))
            top = batch[-1][1].commit
            check = await self._check(batch, top) if job.verify else None
            if check is not None and not check["passed"]:
                self._put_back(batch[1:])
                if len(batch) > 1:
                    alone = True  # which of them fails? the first, checked alone, says
                    continue
                return lambda: self._report(job, "verify_failed", check=check)
            if await self._repo.call("advance", target, top, old):
                return self._finish_all(batch, check)
            self._put_back(batch[1:])
            log.info("%s moved during the merge of %s; merging again", target, job.task_id)
        raise GitError(f"{target} kept moving; task {job.task_id} stays queued")

    async def _riders(self, job: MergeJob, base: str) -> list[tuple[MergeJob, MergeOutcome]]:
        """The merges queued right behind `job` with the same check, each made on the one
        before, taken off the queue; stops at one that would not merge cleanly."""
        queue = self._queues[job.run_id]
        riders: list[tuple[MergeJob, MergeOutcome]] = []
        while queue and len(riders) < BATCH - 1:
            following = queue[0]
            if not isinstance(following, MergeJob) or following.verify != job.verify:
                break
            if not await self._rides_on(following, base):
                break
            branch = task_branch(job.run_id, following.task_id)
            new = await self._repo.call("resolve", f"refs/heads/{branch}")
            message = merge_message(following)
            outcome = await self._repo.call("merge_commit", base, new, message) if new else None
            if outcome is None or outcome.state != "merged":
                break
            queue.popleft()
            riders.append((following, outcome))
            self._pending -= 1  # it is finished as part of this job
            base = outcome.commit
        return riders

    async def _rides_on(self, job: MergeJob, base: str) -> bool:
        """A merge joins a batch only if the work it started from is in the batch's tree."""
        for _, commit in job.after:
            if not await self._repo.call("is_ancestor", commit, base):
                return False
        return True

    def _put_back(self, riders: list[tuple[MergeJob, MergeOutcome]]) -> None:
        queue = self._queues[riders[0][0].run_id] if riders else None
        for rider, _ in reversed(riders):
            assert queue is not None
            queue.appendleft(rider)
            self._pending += 1

    async def _check(self, batch: list[tuple[MergeJob, MergeOutcome]], top: str) -> dict[str, Any]:
        head = batch[0][0]
        assert head.verify is not None

        async def verifying() -> None:
            for job, _ in batch:
                with contextlib.suppress(HephCallError):  # only the display of the state is lost
                    await self._report(job, "verifying")

        return await self._checks.run(head.run_id, head.task_id, head.verify, top, verifying)

    def _finish_all(self, batch: list[tuple[MergeJob, MergeOutcome]], check: Any) -> Step:
        steps = [self._finish(job, outcome, check) for job, outcome in batch]

        async def each() -> None:
            for step in steps:
                await step()

        return each

    def _finish(
        self, job: MergeJob, outcome: MergeOutcome, check: Any
    ) -> Callable[[], Awaitable[None]]:
        """The report of an outcome; a landed branch then goes (its commits live on in
        heph/<run>), a conflicted one stays for the task that resolves it."""

        async def report() -> None:
            await self._report(job, outcome.state, commit=outcome.commit,
                               conflicts=outcome.conflicts, check=check)  # fmt: skip
            if outcome.state != "conflict":
                await self._repo.call("delete_branch", task_branch(job.run_id, job.task_id))
            self._observe("merged", {"task_id": job.task_id, "state": outcome.state,
                                     "at": time.time()})  # fmt: skip

        return report

    def _then(self, run_id: str, step: Step) -> None:
        """Run `step` after the run's earlier steps, so the server hears outcomes in order."""
        previous = self._tails.get(run_id)
        self._tails[run_id] = asyncio.create_task(self._after(previous, step))

    async def _after(self, previous: asyncio.Task[None] | None, step: Step) -> None:
        try:
            if previous is not None:
                await previous
            if step is not None:
                await step()
        except Exception as exc:  # noqa: BLE001 - the boundary of one report: the next go on
            log.error("reporting a merge failed: %s", cause(exc),
                      exc_info=not isinstance(exc, EXPECTED))  # fmt: skip
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._drained.set()

    async def _land(self, job: LandJob) -> None:
        outcome = await asyncio.to_thread(land.land, self._repo, job.run_id, job.into)
        await self._client.call(
            "record_land", request_id=job.request_id, state=outcome.state,
            message=outcome.message, commit=outcome.commit,
        )  # fmt: skip

    async def _report(self, job: MergeJob, state: str, **fields: Any) -> None:
        await self._client.call("record_merge", task_id=job.task_id, state=state, **fields)
