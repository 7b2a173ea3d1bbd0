"""A swarm for launcher tests and benches: a real server on a loopback port, a real git repository,
a private tmux server, and the launcher running in-process with the scripted agent
(tests/launcher/scripted_agent.py) as its custom CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heph_mcp.client import HephClient, LocalServer
from heph_mcp.identity import local_token
from heph_mcp.memory.embedder import LocalEmbedder
from heph_mcp.settings import Settings, load_settings
from launcher.git_repo import open_repo
from launcher.launcher import Launcher
from launcher.tmux import Tmux
from phases import Workflow
from testkit import free_port

AGENT = Path(__file__).parent / "launcher" / "scripted_agent.py"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
}
SCRIPTED = Workflow.model_validate(
    {
        "name": "scripted",
        "description": "Three phases driven by scripted test agents",
        "phases": [
            {"id": 1, "name": "analysis", "description": "Find out what to do."},
            {"id": 2, "name": "implementation", "description": "Change the code."},
            {"id": 3, "name": "validation", "description": "Check the change."},
        ],
        # WebFetch waits for the user: the e2e story answers a question over MCP.
        "config": {
            "max_concurrent_agents": 8,
            "approvals": {"rules": [{"tool": "WebFetch", "decision": "ask"}]},
        },
        "first_task": {"title": "Analyse the goal", "description": "{goal}"},
    }
)


def scripted(text: str, *steps: dict[str, Any]) -> str:
    """A task description carrying a script for the scripted agent."""
    return f"{text}\n\n<<script\n{json.dumps(list(steps))}\nscript>>"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def make_project(root: Path) -> Path:
    """A repository with one commit and no committer identity of its own (like CI)."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# demo\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "init")
    return repo


@dataclass
class Swarm:
    settings: Settings
    tmux: Tmux
    user: HephClient
    launchers: list[tuple[asyncio.Task[None], asyncio.Event, Launcher]] = field(
        default_factory=list
    )
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def ops(self) -> HephClient:
        """A client with the ops role, as the launcher and the Guardian use."""
        return HephClient(self.settings.url, local_token(self.settings.secrets_dir, "ops"))

    def launcher(self, client: HephClient | None = None) -> Launcher:
        return Launcher(
            self.settings,
            client or self.ops(),
            open_repo(self.settings.project),
            self.tmux,
            observer=lambda kind, data: self.events.append((kind, data)),
        )

    async def start_launcher(self, client: HephClient | None = None) -> Launcher:
        """Start a launcher in-process; `client` (an ops client) may stage a race on its calls."""
        launcher = self.launcher(client)
        await launcher.client.__aenter__()
        stop = asyncio.Event()
        self.launchers.append((asyncio.create_task(launcher.run(stop)), stop, launcher))
        return launcher

    async def stop_launcher(self) -> None:
        """Stop the newest launcher as a crash would look to its sessions: they keep running."""
        task, stop, launcher = self.launchers.pop()
        stop.set()
        await asyncio.wait_for(task, 30)
        await launcher.client.__aexit__(None, None, None)

    async def start(self, goal: str, workflow: str = "scripted") -> str:
        started = await self.user.call("start_workflow", workflow=workflow, goal=goal)
        return str(started["run_id"])

    async def wait(
        self,
        run: str,
        done: Callable[[dict[str, Any]], bool],
        timeout: float = 60,
        failures: bool = False,
    ) -> dict[str, Any]:
        """Wait for `done`; a failed task ends the wait at once unless `failures` are expected."""

        def check(status: dict[str, Any]) -> bool:
            failed = [t for p in status["phases"] for t in p["tasks"] if t["status"] == "failed"]
            if failed and not failures:
                raise AssertionError(self.diagnosis(run))
            return done(status)

        for task, _, _ in self.launchers:
            if task.done():
                task.result()  # a crashed launcher fails the test with its own error
        try:
            return await self.user.wait_for(run, check, timeout=timeout, interval=0.2)
        except TimeoutError:
            raise TimeoutError(self.diagnosis(run)) from None

    async def wait_until(self, check: Callable[[], bool], timeout: float = 30) -> None:
        """Poll a condition outside the server (tmux, git) within a bounded wait."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.2)

    def diagnosis(self, run: str) -> str:
        """Tasks, events and panes, so a timed-out test says where the run got stuck."""
        with self.db() as db:
            tasks = db.execute(
                "SELECT id, phase, status, attempts, failure_reason, title, summary FROM tasks"
                " WHERE run_id = ?",
                (run,),
            ).fetchall()
            events = db.execute(
                "SELECT kind, task_id, detail FROM events WHERE run_id = ? ORDER BY id", (run,)
            ).fetchall()
        lines = [f"run {run} stuck; tasks:"] + [f"  {tuple(t)}" for t in tasks]
        lines += ["events:"] + [f"  {tuple(e)}"[:300] for e in events]
        for name in self.tmux.panes():
            lines += [f"pane {name}:", self.tmux.capture(name, 20)]
        return "\n".join(lines)

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.settings.db_path)
        conn.row_factory = sqlite3.Row
        return conn

    def git(self, *args: str) -> str:
        return git(self.settings.project, *args)

    @property
    def exchange(self) -> Path:
        """Where tests and their sandboxed agents swap files (gates, copies)."""
        return exchange_folder(self.settings.project)


def exchange_folder(project: Path) -> Path:
    folder = project.parent / "exchange"
    folder.mkdir(exist_ok=True)
    return folder


def swarm_settings(project: Path, **overrides: Any) -> Settings:
    return load_settings(**swarm_values(project, **overrides))


def swarm_values(project: Path, **overrides: Any) -> dict[str, Any]:
    """The arguments of load_settings for a swarm (a launcher process of its own needs them)."""
    values: dict[str, Any] = {
        "port": free_port(),
        "agent_cli": "custom",
        "agent_command": f"{sys.executable} {AGENT} --brief {{brief}} --mcp-config {{mcp_config}}",
        "tmux_socket": f"heph-test-{uuid.uuid4().hex[:8]}",
        "watch_interval": 0.2,
        "poll_interval": 5.0,
        "start_timeout": 30.0,
        "max_concurrent_agents": 8,
        "worker_id": "test-worker",
        # Scripted descriptions look alike to the embedder; these tests are about launching.
        "task_duplicate_threshold": 0.995,
        # The one folder outside its worktree a sandboxed test agent may write: the gates
        # and copies tests exchange with it (see Swarm.exchange).
        "agent_writable_paths": [exchange_folder(project)],
    }
    return {"project": project, **values, **overrides}


@contextlib.asynccontextmanager
async def running_swarm(
    settings: Settings, embedder: LocalEmbedder, workflows: list[Workflow] | None = None
) -> AsyncIterator[Swarm]:
    with LocalServer(
        settings, workflows=[SCRIPTED, *(workflows or [])], embedder=embedder
    ) as server:
        tmux = Tmux(settings.tmux_socket)
        async with server.client() as user:
            swarm = Swarm(settings, tmux, user)
            try:
                yield swarm
            finally:
                try:
                    while swarm.launchers:
                        await swarm.stop_launcher()
                finally:  # a launcher that crashed must not leave its agents running
                    subprocess.run(
                        ["tmux", "-L", str(settings.tmux_socket), "kill-server"], check=False
                    )
