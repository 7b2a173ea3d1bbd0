"""The launcher: queued tasks become agent sessions in tmux, each in its own worktree.

It is an MCP client with the ops role and never opens the database. It hears
about work through a `subscriptions/listen` stream on `heph://queue` (with a
slow poll as a safety net), claims tasks one atomic call at a time, starts
each agent in a worktree holding the work its task comes from, watches its
session, and when the task is finished puts its branch in the run's merge
queue and removes what it created. Sessions outlive the launcher: a
restarted launcher re-adopts them instead of starting duplicates, and
queues again the merges it left unfinished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from claude_config.confinement import Confinement, claude_git_env, network_is_open
from claude_config.templates import AgentLaunch, CliTemplate, cli_template, render_argv
from heph_mcp.client import HephCallError, HephClient
from heph_mcp.settings import Settings
from launcher import workspace
from launcher.git_repo import GitRepo, run_branch
from launcher.guard import EXPECTED, one_task
from launcher.leases import Leases
from launcher.lineage import Holding
from launcher.live_report import LiveReporter
from launcher.merge_queue import MergeJob, MergeQueue, Observer
from launcher.netproxy import NetworkGate, open_gate
from launcher.sandbox import confined_argv, plan_for
from launcher.sessions import (
    AgentSession,
    Verdict,
    end_reason,
    judge,
    session_name,
    session_of,
    with_pane,
)
from launcher.sweep import sweep_landed
from launcher.tmux import PaneState, Tmux
from launcher.usage import final_usage
from launcher.wakeups import listen_queue, wait_any
from launcher.worktrees import Worktrees

log = logging.getLogger("heph.launcher")
__all__ = ["Launcher", "Observer"]
PANE_LOG_LINES = 2000
AGENT_IDENTITY = {"GIT_AUTHOR_NAME": "Hephaestus agent", "GIT_COMMITTER_NAME": "Hephaestus agent"}


class Launcher:
    def __init__(
        self,
        settings: Settings,
        client: HephClient,
        repo: GitRepo,
        tmux: Tmux,
        *,
        observer: Observer | None = None,
    ):
        self.settings = settings
        self.client = client
        self.repo = repo
        self.tmux = tmux
        self.worker = settings.worker_id
        slots = settings.launcher_slots  # 0: only merge what workers elsewhere push
        self.slots = settings.max_concurrent_agents if slots is None else slots
        self.sessions: dict[str, AgentSession] = {}
        self._runs_ready: set[str] = set()
        self._wake = asyncio.Event()
        self._observe = observer or (lambda kind, data: None)
        self._agent_env: dict[str, str] = {}
        self.gate: NetworkGate | None = None
        self.merges = MergeQueue(repo, client, settings, self._observe)
        self.worktrees = Worktrees(repo, client)
        self.live = LiveReporter(settings, client, tmux, repo)
        self.leases = Leases(client, self.worker, settings.lease_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; sessions are left running for the next launcher."""
        await asyncio.to_thread(workspace.private_folder, self.settings.private_dir, 2)
        await self._open_gate()
        await self.adopt()
        listener = asyncio.create_task(
            listen_queue(self.client, self._wake, self.settings.poll_interval)
        )
        reporter = asyncio.create_task(self.live.run(self.sessions.values, stop))
        next_poll = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                claim = self._wake.is_set() or now >= next_poll
                self._wake.clear()
                if claim:
                    next_poll = now + self.settings.poll_interval
                try:
                    await self.step(claim)
                except EXPECTED as exc:  # a refused look (list_agents...): the next pass retries
                    log.warning("a pass stopped short: %s", exc)
                await self.leases.renew()
                await wait_any(self._wake, stop, self.settings.watch_interval)
        finally:
            for helper in (listener, reporter):
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper
            await self.merges.close()
            if self.gate is not None:
                await self.gate.close()

    async def _open_gate(self) -> None:
        """A network limited to a list of hosts is enforced by our gate, not by a dialog."""
        domains = self.settings.network_allowed_domains
        if self.settings.agent_sandbox and not network_is_open(domains):
            ports = self.settings.state_dir / f"netgate-{self.worker}.json"
            self.gate = await open_gate(domains, ports)

    async def step(self, claim: bool = True) -> None:
        """One pass: settle sessions that need it, take land requests, fill free slots."""
        ended = await self.reconcile() if self.sessions else 0
        if claim:
            self.merges.poke()  # a task failed or was cancelled: merges waiting on it look again
            await self._take_land_requests()
            await self.merges.take_handed_over()  # branches workers on other hosts pushed
        if claim or ended:
            await self.fill()

    async def adopt(self) -> None:
        """Take back this worker's live sessions; settle the ones that died meanwhile.

        Their leases are renewed first: however long this worker was away, they are its own.
        """
        await self.leases.renew(force=True)
        if not await self.repo.call("has_identity"):
            self._agent_env = dict(AGENT_IDENTITY)
        for agent in (await self._server_agents()).values():
            session = session_of(agent, self.settings)
            self.sessions[session.agent_id] = session
            session.confirmed = bool(agent.get("last_seen_at"))
            # list_agents carries no title; the merge commit of an adopted task needs it.
            await one_task(self._know_task(session), f"adopting task {session.task_id}")
            # One whose session is gone is settled by the first pass, as its task's status says
            # (a finished task's session may be gone: its work is merged all the same).
        await one_task(
            self.client.call(
                "release_claim",
                worker=self.worker,
                reason="claimed by a launcher that stopped before starting its agent",
            ),
            "giving back claims without an agent",
        )
        await one_task(self.merges.resume(), "queueing again the merges left unfinished")
        live = {s.task_id for s in self.sessions.values()}
        await one_task(sweep_landed(self.repo, self.client, live), "deleting landed branches")

    async def _know_task(self, session: AgentSession) -> None:
        task = await self.client.call("get_task", task_id=session.task_id)
        session.title, session.kind = task["title"], task.get("kind", "work")
        session.validates = task.get("validates")

    async def fill(self) -> None:
        while len(self.sessions) < self.slots and await self.leases.renew():
            try:
                claim = await self.client.call(
                    "claim_task", worker=self.worker, slots=self.slots,
                    labels=self.settings.worker_labels,
                )  # fmt: skip
            except EXPECTED as exc:
                log.warning("no claim this pass (the next one retries): %s", exc)
                return
            if claim.get("task") is None:
                return
            await self.launch(claim)

    async def launch(self, claim: dict[str, Any]) -> None:
        """Start a claimed task's agent. A failure is that task's alone: a claim with no agent
        yet is given back, an agent registered but not started is ended, each with the cause."""
        task_id = claim["task"]["id"]
        await one_task(
            self._launch(claim),
            f"launching task {task_id}",
            lambda cause: self._launch_failed(task_id, cause),
        )

    async def _launch(self, claim: dict[str, Any]) -> None:
        task, spec = claim["task"], claim.get("agent") or {}
        run_id, task_id = task["run_id"], task["id"]
        cli = spec.get("cli") or self.settings.agent_cli
        template = cli_template(cli, self.settings.agent_command)
        await self._ensure_run_branch(run_id)
        session = await self._register(task, cli)
        launch = AgentLaunch(
            url=self.client.url,
            token=session.token,
            agent_dir=session.agent_dir,
            private_dir=session.private_dir,
            worktree=session.worktree,
            task_id=task_id,
            run_id=run_id,
            model=spec.get("model") or self.settings.agent_model,
            allowed_tools=list(spec.get("allowed_tools") or []),
            read_only=session.kind != "work",
        )
        # The worktree and the brief do not depend on each other: prepare both at once.
        holding, brief = await asyncio.gather(
            self._worktree(session, task), self.client.prompt("task_brief", task_id=task_id)
        )
        launch.confinement = self._confinement(session, template)
        env, _ = await asyncio.gather(
            asyncio.to_thread(workspace.prepare, template, launch, f"{brief}\n\n{holding.text()}"),
            self.worktrees.record(task_id, holding),
        )
        env |= self._identity_env(session)
        if launch.confinement is not None and template.sandbox == "claude":
            env |= claude_git_env()
        argv = confined_argv(template, launch.confinement, render_argv(template, launch))
        await self.tmux.call("start", session.session, session.worktree, argv, env)
        session.token = ""  # it lives on only in the agent's private MCP config
        self._observe(
            "launched", {"task_id": task_id, "agent_id": session.agent_id, "at": time.time()}
        )
        log.info("started %s for task %s (%s)", session.session, task_id, task["title"][:60])

    async def _launch_failed(self, task_id: str, cause: str) -> None:
        """End the agent registered for the task, or give back a claim that got none."""
        session = next((s for s in self.sessions.values() if s.task_id == task_id), None)
        if session is not None:
            await self._end(session, "died", f"could not start the agent: {cause}")
            return
        await self.client.call(
            "release_claim", worker=self.worker, task_id=task_id, reason=f"launch failed: {cause}"
        )

    def _confinement(self, session: AgentSession, template: CliTemplate) -> Confinement | None:
        """The agent's sandbox plan, or None when the user turned the sandbox off."""
        if not self.settings.agent_sandbox:
            return None
        proxy = (self.gate.http_port, self.gate.socks_port) if self.gate else None
        return plan_for(self.settings, session, template.sandbox, self.repo.common_dir, proxy)

    async def _worktree(self, session: AgentSession, task: dict[str, Any]) -> Holding:
        """A worker's own branch, or for a validator a read-only checkout of what it judges."""
        live = {s.task_id: s.worktree for s in self.sessions.values() if s.kind == "work"}
        if session.kind == "work":
            return await self.worktrees.for_worker(session, task, live)
        if session.validates is not None:
            await self._hand_off(session.validates)
        return await self.worktrees.for_validator(session, task.get("base_ref"), live)

    async def _hand_off(self, task_id: str) -> None:
        """End the worker of a task under validation first, so its leftovers are committed."""
        for session in list(self.sessions.values()):
            if session.task_id == task_id and session.kind == "work":
                await self._end(session, "handed_off", "its task went to a validator")

    async def _register(self, task: dict[str, Any], cli: str) -> AgentSession:
        """Record the agent on the server (minting its token) before anything is started."""
        run_id, task_id = task["run_id"], task["id"]
        name = session_name(run_id, task_id)
        worktree = self.settings.worktrees_dir / f"{run_id}-{task_id}"
        started = await self.client.call(
            "register_agent",
            task_id=task_id,
            worker=self.worker,
            session_name=name,
            cli=cli,
            worktree=str(worktree),
        )
        session = AgentSession(
            started["agent_id"], task_id, run_id, task["title"], name, worktree,
            self.settings.agents_dir / name, token=started["token"],
            kind=task.get("kind", "work"), validates=task.get("validates"),
            private_dir=self.settings.private_dir / name,
        )  # fmt: skip
        self.sessions[session.agent_id] = session
        return session

    async def reconcile(self) -> int:
        """Settle every session whose task ended, whose process died or never started."""
        agents = await self._server_agents()
        panes = await self._panes()
        ended = 0
        for session in list(self.sessions.values()):
            agent = agents.get(session.agent_id)
            pane = panes.get(session.session)
            verdict = judge(session, agent, pane, self.settings.start_timeout)
            if verdict is not None:
                reason = end_reason(verdict, agent, pane, self.settings)
                await one_task(self._end(session, verdict, reason), f"ending {session.session}")
                ended += 1
        return ended

    async def _end(self, session: AgentSession, verdict: Verdict, reason: str) -> None:
        """Stop the session, keep or merge its work, remove what we created, report.

        Every part is done whatever became of the others (a part that failed is named in the
        reason reported), and each may be done again: a launcher killed midway redoes it all.
        """
        pane = str(await self.tmux.call("capture", session.session, PANE_LOG_LINES))
        await one_task(asyncio.to_thread(self._keep_pane, session, pane), "keeping a pane's log")
        reason = with_pane(verdict, reason, pane)
        await self.tmux.call("kill", session.session)
        reason, merge = await self._keep_work(session, verdict, reason)
        await one_task(self.live.final(session), f"reporting the diff stat of {session.task_id}")
        await one_task(
            asyncio.to_thread(
                workspace.remove, session.agent_dir, session.private, session.worktree
            ),
            f"removing the files of {session.session}",
        )
        await final_usage(self.client, session.agent_id, session.worktree)
        if verdict != "gone":
            with contextlib.suppress(HephCallError):  # already ended by the server: fine
                await self.client.call(
                    "report_agent_exit", agent_id=session.agent_id, reason=reason
                )
        if merge is not None:  # only now: its outcome may send the task back to the queue
            self.merges.put(merge)
        del self.sessions[session.agent_id]
        self._observe("ended", {"task_id": session.task_id, "verdict": verdict, "at": time.time()})
        log.info("task %s: %s (%s)", session.task_id, verdict, reason.splitlines()[0][:120])

    async def _keep_work(
        self, session: AgentSession, verdict: Verdict, reason: str
    ) -> tuple[str, MergeJob | None]:
        """Commit a worker's leftovers, queue finished work for merging, remove the worktree.

        Returns the exit reason, with any failure added to it, and the merge to start once the
        exit is reported (the server already lists it as queued).
        """
        failed: list[str] = []
        task_id, merge = session.task_id, None
        if session.kind == "work":
            message = f"heph: uncommitted work of {task_id}"
            await one_task(
                self.repo.call("commit_leftovers", session.worktree, message),
                f"committing the leftovers of {task_id}",
                lambda cause: failed.append(f"leftovers: {cause}"),
            )
            if verdict == "finished":
                merge = await one_task(
                    self.merges.enqueue(session.run_id, task_id, session.title),
                    f"queueing the merge of {task_id}",
                    lambda cause: failed.append(f"merge: {cause}"),
                )
        elif verdict == "finished" and session.validates is not None:
            await one_task(
                self._merge_validated(session.validates),
                f"queueing the merge of {session.validates}",
                lambda cause: failed.append(f"merge: {cause}"),
            )
        await one_task(
            self.repo.call("remove_worktree", session.worktree),
            f"removing the worktree of {task_id}",
            lambda cause: failed.append(f"worktree: {cause}"),
        )
        return (f"{reason} ({'; '.join(failed)})" if failed else reason), merge

    def _keep_pane(self, session: AgentSession, pane: str) -> None:
        """Keep the session's last screenfuls after it is gone: what did the agent do?"""
        if pane:
            self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
            (self.settings.logs_dir / f"{session.session}.{session.agent_id}.log").write_text(pane)

    async def _merge_validated(self, task_id: str) -> None:
        """A validator passed the work: queue its merge now (its worker ended at hand-off)."""
        task = await self.client.call("get_task", task_id=task_id)
        if task["status"] == "done" and task.get("merge_state") in (None, "verify_failed"):
            await self.merges.submit(task["run_id"], task_id, task["title"])

    async def _take_land_requests(self) -> None:
        """Land requests go through their run's merge queue, after the merges before them."""
        try:
            claimed = await self.client.call("claim_land_requests", worker=self.worker)
        except HephCallError as exc:
            log.warning("land requests not taken: %s", exc)
            return
        for request in claimed.get("requests", []):
            self.merges.land(request)

    async def _ensure_run_branch(self, run_id: str) -> None:
        if run_id not in self._runs_ready:
            await self.repo.call("ensure_branch", run_branch(run_id), "HEAD")
            self._runs_ready.add(run_id)

    def _identity_env(self, session: AgentSession) -> dict[str, str]:
        """A commit identity for agents when the repository has none (CI machines)."""
        if not self._agent_env:
            return {}
        email = f"{session.agent_id}@hephaestus.local"
        return self._agent_env | {"GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_EMAIL": email}

    async def _server_agents(self) -> dict[str, dict[str, Any]]:
        listed = await self.client.call("list_agents", worker=self.worker)
        return {a["id"]: a for a in listed.get("agents", [])}

    async def _panes(self) -> dict[str, PaneState]:
        panes: dict[str, PaneState] = await self.tmux.call("panes")  # type: ignore[assignment]
        return panes
