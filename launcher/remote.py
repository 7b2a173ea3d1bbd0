"""A launcher on another host (`heph worker`): its own clone, the server's repository of record.

The server host's repository holds `heph/<run>` and every task branch; a
worker fetches from it (git smart HTTP at `<server>/git/`, the ops token sent
as a header through git's environment) and pushes its task branches back.
Before an agent starts, the worker fetches the run's branch and the branches
its task builds on; whenever an agent's leftovers are committed (its exit, a
hand-off to a validator, a child that needs them) and every few seconds while
it runs, the task branch is pushed. Merges never happen here: a finished
branch is handed over (`record_merge` queued for worker `remote`) and the
launcher on the server host merges it. A worker that dies after pushing loses
nothing; one that dies before loses only what was not pushed yet, and its
task returns to the queue when its lease expires.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from git import Repo

from heph_mcp.client import HephClient
from heph_mcp.services.common import task_branch
from heph_mcp.settings import Settings
from launcher.git_repo import OWN_IDENTITY, SAFE, GitError, GitRepo, run_branch
from launcher.launcher import Launcher, Observer
from launcher.lineage import Holding, sources
from launcher.merge_queue import MergeJob, MergeQueue
from launcher.sessions import AgentSession
from launcher.tmux import Tmux
from launcher.worktrees import Worktrees

log = logging.getLogger("heph.worker")
REMOTE = "remote"  # heph_mcp.services.merges.REMOTE: the server host's launcher takes these
PUSH_INTERVAL = 5.0  # seconds between pushes of running agents' branches


def git_url(server: str) -> str:
    """`http://host:port/mcp` (or a public URL behind a proxy) -> its `/git/` endpoint."""
    base = server.rstrip("/").removesuffix("/mcp")
    return base + "/git/"


class RemoteRepo(GitRepo):
    """The worker's clone; fetches and pushes talk to the server's repository."""

    def __init__(self, repo: Repo, server: str, token: str):
        super().__init__(repo)
        self.url = git_url(server)
        self._auth = {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}",
            "GIT_TERMINAL_PROMPT": "0",
        }

    def _remote(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        """git against the server; the token goes in git's environment, never its argv."""
        command = ["git", "-C", str(self.root), *SAFE, *args]
        with self._lock:
            status, out, err = self._repo.git.execute(
                command, with_extended_output=True, with_exceptions=False,
                env=OWN_IDENTITY | self._auth,
            )  # fmt: skip
        if check and status != 0:
            raise GitError(f"git {args[0]} with {self.url} failed ({status}): {err.strip()[:500]}")
        return int(status), str(out), str(err)

    def remote_tips(self, *branches: str) -> dict[str, str]:
        """The server's commit of each branch that exists there."""
        refs = [f"refs/heads/{b}" for b in branches]
        out = self._remote("ls-remote", self.url, *refs)[1]
        pairs = (line.split("\t", 1) for line in out.splitlines() if "\t" in line)
        found = {ref: commit for commit, ref in pairs}
        return {b: found[r] for b, r in zip(branches, refs, strict=True) if r in found}

    def fetch_branches(self, branches: list[str]) -> None:
        """Make the local copy of each branch the server's (the server is the source of
        truth), except branches this worker's live agents have checked out: those are
        newer here, and theirs to push."""
        busy = self._checked_out()
        wanted = [b for b in dict.fromkeys(branches) if b not in busy]
        tips = self.remote_tips(*wanted) if wanted else {}
        stale = [b for b, commit in tips.items() if self.resolve(f"refs/heads/{b}") != commit]
        if stale:
            specs = [f"+refs/heads/{b}:refs/heads/{b}" for b in stale]
            self._remote("fetch", "-q", "--no-tags", "--no-write-fetch-head", self.url, *specs)

    def push_branches(self, branches: list[str]) -> list[str]:
        """Push task branches to the server (fast-forward only: a worker that outlived its
        lease never overwrites the retry's work); returns the refused ones."""
        if not branches:
            return []
        specs = [f"refs/heads/{b}:refs/heads/{b}" for b in branches]
        status, out, err = self._remote("push", "--porcelain", self.url, *specs, check=False)
        refused = [b for b in branches if f"!\trefs/heads/{b}:" in out]
        if status != 0 and not refused:
            raise GitError(f"git push to {self.url} failed ({status}): {err.strip()[:500]}")
        for branch in refused:
            log.warning("the server refused %s (%s)", branch, err.strip()[:200])
        return refused

    def ensure_branch(self, name: str, start: str = "HEAD") -> str:
        """A run's branch lives on the server: fetch it, or create it there at the server's
        HEAD (the server host's checkout, as its own launcher would) when it is missing."""
        if not self.remote_tips(name):
            head = self._remote("ls-remote", self.url, "HEAD")[1]
            commit = head.split("\t")[0].strip()
            if not commit:
                raise GitError(f"the repository at {self.url} has no HEAD to start {name} from")
            self._remote("fetch", "-q", "--no-tags", self.url, "HEAD")
            lease = f"--force-with-lease=refs/heads/{name}:"
            self._remote("push", "-q", lease, self.url, f"{commit}:refs/heads/{name}", check=False)
        self.fetch_branches([name])
        return self.resolve(f"refs/heads/{name}") or ""

    def commit_leftovers(self, path: Path, message: str) -> str | None:
        """Commit what the agent left, then push its branch: committed work outlives us."""
        commit = super().commit_leftovers(path, message)
        branch = self._branch_at(path)
        if branch is not None:
            self.push_branches([branch])
        return commit

    def _branch_at(self, path: Path) -> str | None:
        if not path.is_dir():
            return None
        status, out = self._git("symbolic-ref", "--short", "-q", "HEAD", cwd=path, check=False)
        return out.strip() if status == 0 else None

    def _checked_out(self) -> set[str]:
        listing = self._git("worktree", "list", "--porcelain")[1]
        prefix = "branch refs/heads/"
        return {line[len(prefix) :] for line in listing.splitlines() if line.startswith(prefix)}


class RemoteWorktrees(Worktrees):
    """Fetch what a worktree starts from before it is made."""

    repo: RemoteRepo

    async def for_worker(
        self, session: AgentSession, task: dict[str, Any], live: dict[str, Path]
    ) -> Holding:
        wanted = [run_branch(session.run_id), session.branch]
        if task.get("base_ref"):
            wanted.append(task["base_ref"])
        wanted += [s.branch for s in sources(task, await self._parent(task))]
        await self.repo.call("fetch_branches", wanted)
        return await super().for_worker(session, task, live)

    async def for_validator(
        self, session: AgentSession, submitted_from: str | None, live: dict[str, Path]
    ) -> Holding:
        checked = session.validates
        branch = task_branch(session.run_id, checked) if checked else run_branch(session.run_id)
        wanted = [branch, submitted_from] if submitted_from else [branch]
        await self.repo.call("fetch_branches", wanted)
        return await super().for_validator(session, submitted_from, live)


class HandOver(MergeQueue):
    """A worker's merge queue: finished branches are already pushed; the server host's
    launcher merges them (take_merges). Nothing is merged, landed or resumed here."""

    async def enqueue(self, run_id: str, task_id: str, title: str) -> MergeJob:
        await self._client.call("record_merge", task_id=task_id, state="queued", worker=REMOTE)
        return MergeJob(run_id, task_id, title, None)

    def put(self, job: MergeJob) -> None:
        return None

    async def submit(self, run_id: str, task_id: str, title: str) -> None:
        await self.enqueue(run_id, task_id, title)

    async def resume(self) -> None:
        return None

    async def take_handed_over(self) -> None:
        return None

    def land(self, request: dict[str, Any]) -> None:
        return None

    def poke(self) -> None:
        return None

    async def close(self) -> None:
        return None


class WorkerLauncher(Launcher):
    """The launcher of `heph worker`: runs agents and pushes their branches, never merges."""

    repo: RemoteRepo

    def __init__(
        self,
        settings: Settings,
        client: HephClient,
        repo: RemoteRepo,
        tmux: Tmux,
        *,
        observer: Observer | None = None,
    ):
        super().__init__(settings, client, repo, tmux, observer=observer)
        self.merges = HandOver(repo, client, settings, self._observe)
        self.worktrees = RemoteWorktrees(repo, client)
        self._pushed: dict[str, str | None] = {}
        self._next_push = 0.0

    async def step(self, claim: bool = True) -> None:
        await super().step(claim)
        if time.monotonic() >= self._next_push:
            self._next_push = time.monotonic() + PUSH_INTERVAL
            await self.push_running()

    async def push_running(self) -> None:
        """Push each running agent's branch whose commits moved since the last push, so a
        worker that dies loses only what its agents had not committed."""
        branches = [s.branch for s in self.sessions.values() if s.kind == "work"]
        if not branches:
            return
        tips: dict[str, str | None] = await self.repo.call("tips", *branches)
        moved = [b for b in branches if tips[b] is not None and self._pushed.get(b) != tips[b]]
        try:
            refused = await self.repo.call("push_branches", moved)
        except GitError as exc:
            log.warning("pushing running branches failed (next try in %ss): %s", PUSH_INTERVAL, exc)
            return
        self._pushed.update({b: tips[b] for b in moved if b not in refused})

    async def _take_land_requests(self) -> None:
        """Landing moves the user's branch on the server host: its launcher does it."""
        return None
