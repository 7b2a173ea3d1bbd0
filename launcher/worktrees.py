"""Each agent's worktree: where it starts, and the record of what it holds.

A worker continues its own branch on a retry, starts from its `base_ref`
when it has one (a resolve or fix task starts from the branch it repairs),
and otherwise from the run's branch with the work it comes from merged in
(see lineage). A validator gets a detached, read-only checkout of exactly the
commit it judges.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from heph_mcp.client import HephCallError, HephClient
from heph_mcp.services.common import task_branch
from launcher.git_repo import GitError, GitRepo, run_branch
from launcher.lineage import Holding, Source, plain, sources, start_point
from launcher.sessions import AgentSession

log = logging.getLogger("heph.launcher")


class Worktrees:
    def __init__(self, repo: GitRepo, client: HephClient):
        self.repo = repo
        self.client = client

    async def for_worker(
        self, session: AgentSession, task: dict[str, Any], live: dict[str, Path]
    ) -> Holding:
        """`live` maps the task ids of this launcher's running workers to their worktrees."""
        earlier = await self.repo.call("resolve", f"refs/heads/{session.branch}")
        if earlier is not None:
            holding = plain(earlier, Source(session.branch, "earlier_attempt", session.task_id))
        elif task.get("base_ref"):
            base = task["base_ref"]
            holding = plain(await self._commit_of(base), Source(base, "base"))
        else:
            wanted = sources(task, await self._parent(task))
            await self._commit_leftovers(wanted, live, session.task_id)
            holding = await asyncio.to_thread(
                start_point, self.repo, session.run_id, wanted, session.task_id
            )
        await self.repo.call("add_worktree", session.worktree, session.branch, holding.start)
        return holding

    async def for_validator(
        self, session: AgentSession, submitted_from: str | None, live: dict[str, Path]
    ) -> Holding:
        """The checked task's branch (its worker has ended); for a result, the branch of the
        work task that submitted it, with what a live submitter left uncommitted (the result
        speaks of that worktree, merged or not), or the run's when there is none."""
        source = Source(run_branch(session.run_id), "run")
        if session.validates is not None:
            branch = task_branch(session.run_id, session.validates)
            source = Source(branch, "checked", session.validates)
        elif submitted_from and await self.repo.call("resolve", f"refs/heads/{submitted_from}"):
            source = Source(submitted_from, "checked")
            submitter = [t for t in live if task_branch(session.run_id, t) == submitted_from]
            wanted = [Source(submitted_from, "creator", t) for t in submitter]
            await self._commit_leftovers(wanted, live, session.task_id)
        commit = await self._commit_of(source.branch)
        await self.repo.call("add_review_worktree", session.worktree, commit)
        return plain(commit, source)

    async def record(self, task_id: str, holding: Holding) -> None:
        """For get_task and for the task's merge, which waits for the work it started from. A
        retry keeps the first record: its branch still holds what that start merged in. The
        brief already tells the agent, so a refusal only costs the record."""
        if holding.holds[0].role == "earlier_attempt":
            return
        try:
            await self.client.call("record_lineage", task_id=task_id, lineage=holding.record())
        except HephCallError as exc:
            log.warning("lineage of %s not recorded: %s", task_id, exc)

    async def _commit_leftovers(
        self, wanted: list[Source], live: dict[str, Path], child: str
    ) -> None:
        """A child sees its creator's latest work: commit what a live creator left uncommitted,
        as its exit would (only this launcher's sessions: others' worktrees are elsewhere)."""
        for source in wanted:
            if source.task_id in live:
                message = f"heph: uncommitted work of {source.task_id}, for {child}"
                try:
                    await self.repo.call("commit_leftovers", live[source.task_id], message)
                except GitError as exc:  # its last commit still counts; say why not more
                    log.warning("could not commit %s's leftovers: %s", source.task_id, exc)

    async def _parent(self, task: dict[str, Any]) -> dict[str, Any] | None:
        if not task.get("parent_task_id"):
            return None
        try:
            return await self.client.call("get_task", task_id=task["parent_task_id"])
        except HephCallError:
            return None

    async def _commit_of(self, ref: str) -> str:
        commit: str | None = await self.repo.call("resolve", ref)
        if commit is None:
            raise GitError(f"{ref} does not exist, so there is nothing to start from")
        return commit
