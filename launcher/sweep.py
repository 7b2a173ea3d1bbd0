"""Task branches left behind after their work landed.

A finished task's branch goes once its merge is reported; a launcher stopped
between the report and the deletion (killed, or the machine went down) leaves
it. At start, before anything new runs, every task branch whose task's merge
is recorded as landed (merged, or nothing to merge) is deleted: its commits
live on in the run's branch. Other branches stay: a conflict's branch is where
its resolve task starts, a failed task's keeps its work.
"""

from __future__ import annotations

import logging

from heph_mcp.client import HephCallError, HephClient
from heph_mcp.merge_records import LANDED
from launcher.git_repo import GitRepo

log = logging.getLogger("heph.launcher")


async def sweep_landed(repo: GitRepo, client: HephClient, keep: set[str]) -> list[str]:
    """Delete the branches of landed tasks, except those of tasks in `keep`; returns them."""
    deleted = []
    for branch in await repo.call("task_branches"):
        task_id = branch.rpartition("-")[2]
        if task_id in keep:
            continue
        try:
            task = await client.call("get_task", task_id=task_id)
        except HephCallError:
            continue  # a task this server does not know: not ours to judge
        if task.get("merge_state") in LANDED:
            await repo.call("delete_branch", branch)
            deleted.append(branch)
    if deleted:
        log.info("deleted %d landed task branches left by an earlier launcher", len(deleted))
    return deleted
