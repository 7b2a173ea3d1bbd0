"""The whole swarm inside a Python script: server, launcher and Guardian in this process.

`heph up` is the command-line way; a script that defines its own phases and workflow
in Python wants the same thing without a second terminal:

    with LocalSwarm(load_settings(project="."), workflows=[my_workflow]) as swarm:
        run = swarm.start_workflow("my_workflow", "the goal")   # queues the first task
        swarm.wait(run)
    # leaving the block is shutdown(graceful=True)

The server runs in its own thread (LocalServer); the launcher and the Guardian share
a second thread with its own event loop, as MCP clients of that server like any
other, so the script's own code stays synchronous. This module lives in the command
layer because it is the one place that composes the server with its clients.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from rich.console import Console

from guardian.runner import run_guardian
from heph_mcp.client import HephClient, LocalServer, merges_settled
from heph_mcp.memory.embedder import Embedder
from heph_mcp.settings import Settings
from launcher.runner import preflight as launcher_preflight
from launcher.runner import run_launcher
from phases import Workflow

log = logging.getLogger("heph.swarm")
T = TypeVar("T")
Status = dict[str, Any]


def run_ended(status: Status) -> bool:
    """A `wait` condition: the run is completed or cancelled."""
    return bool(status["run"]["status"] != "active")


def settled(runs: list[Status]) -> bool:
    """No agent runs and no merge waits, in any run: nothing would be cut short."""
    return all(merges_settled(r) for r in runs)


class LocalSwarm:
    """Server, launcher and Guardian for one project, started and stopped from a script."""

    def __init__(
        self,
        settings: Settings,
        workflows: list[Workflow] | None = None,
        embedder: Embedder | None = None,
    ):
        """`workflows` are offered beside the built-ins; `embedder` shares a loaded model."""
        self.settings = settings
        self._workflows = workflows
        self._embedder = embedder
        self._server: LocalServer | None = None
        self._loop = asyncio.new_event_loop()  # the helpers' loop, run by its own thread
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop = asyncio.Event()
        self._helpers: Future[None] | None = None
        self._user: HephClient | None = None
        self._console = Console(stderr=True)

    def __enter__(self) -> LocalSwarm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown(graceful=exc[0] is None)

    def start(self) -> LocalSwarm:
        """Check tmux, the agent CLI, the sandbox and the repository first (each failure
        names its fix), then start the server, the launcher and the Guardian."""
        launcher_preflight(self.settings)
        self._server = LocalServer(self.settings, self._workflows, self._embedder).__enter__()
        self._thread.start()
        try:
            user = self._server.client()
            self._call(user.__aenter__())
            self._user = user
            self._helpers = asyncio.run_coroutine_threadsafe(self._run_helpers(), self._loop)
        except BaseException:
            self.shutdown(graceful=False)
            raise
        return self

    @property
    def user(self) -> HephClient:
        """The user's MCP client (async; call it through `call` from synchronous code)."""
        if self._user is None:
            raise RuntimeError("the swarm is not started: call start() or use `with`")
        return self._user

    def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """Any user tool by name, e.g. call("cancel_workflow", run=run)."""
        return self._call(self.user.call(tool, **arguments))

    def start_workflow(self, workflow: str, goal: str, **params: str | int) -> str:
        """Start a run; its first task is queued at once. Returns the run's id."""
        started = self._call(self.user.start_workflow(workflow, goal, **params))
        return str(started["run_id"])

    def create_task(
        self, run: str, phase: int | str, title: str, description: str, **extra: Any
    ) -> dict[str, Any]:
        return self._call(self.user.create_task(run, phase, title, description, **extra))

    def status(self, run: str) -> Status:
        """One run's status: its run, phases with tasks, agents, results, merge queue."""
        return dict(self._call(self.user.status(run))["runs"][0])

    def wait(
        self, run: str, until: Callable[[Status], bool] = run_ended, timeout: float = 3600.0
    ) -> Status:
        """Until `until(status)` holds (default: the run ended); shows progress on a terminal.
        A crashed launcher or Guardian ends the wait with its own error."""
        deadline = time.monotonic() + timeout
        with self._console.status(f"run {run}: starting") as shown:
            while True:
                self._raise_if_helpers_ended()
                status = self.status(run)
                if until(status):
                    return status
                if time.monotonic() > deadline:
                    raise TimeoutError(f"run {run} not done after {timeout:g}s: {_counts(status)}")
                shown.update(f"run {run}: {_counts(status)}")
                time.sleep(0.5)

    def shutdown(self, graceful: bool = True, timeout: float = 60.0) -> list[str]:
        """Stop the swarm. `graceful` first waits (up to `timeout`) until no agent runs and
        no merge waits, so finished work lands; the launcher keeps claiming meanwhile, so
        cancel a run first to stop it sooner. Then the launcher and the Guardian end their
        current step, and the server stops. Returns the agent sessions still running: they
        outlive the swarm, and the next start adopts them."""
        if self._server is None:
            if not self._thread.is_alive():
                self._loop.close()
            return []
        left: list[str] = []
        try:
            if graceful and self._helpers is not None and not self._helpers.done():
                self._settle(timeout)
            left = self._running_sessions()
            self._stop_helpers(timeout)
        finally:
            if self._user is not None:
                self._call(self._user.__aexit__(None, None, None))
                self._user = None
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._server.__exit__(None, None, None)
            self._server = None
        if left:
            log.warning("agent sessions still running: %s", ", ".join(left))
        return left

    async def _run_helpers(self) -> None:
        """Launcher and Guardian until `_stop`; one failing stops the other."""
        url = self.settings.url
        helpers = [
            asyncio.create_task(run_launcher(self.settings, self._stop, url=url)),
            asyncio.create_task(run_guardian(self.settings, self._stop, url=url)),
        ]
        try:
            for finished in asyncio.as_completed(helpers):
                await finished  # a helper returns only once stopped; an error ends both
        finally:
            self._stop.set()
            await asyncio.gather(*helpers, return_exceptions=True)

    def _settle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not settled(self._call(self.user.status())["runs"]):
            if time.monotonic() > deadline or self._helpers is None or self._helpers.done():
                return
            time.sleep(0.5)

    def _running_sessions(self) -> list[str]:
        if self._user is None:
            return []
        runs = self._call(self._user.status())["runs"]
        return [a["session_name"] for r in runs for a in r["agents"]]

    def _stop_helpers(self, timeout: float) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        if self._helpers is not None:
            self._helpers.result(timeout=timeout)

    def _raise_if_helpers_ended(self) -> None:
        if self._helpers is not None and self._helpers.done():
            self._helpers.result()  # the helper's own error, with its cause and fix
            raise RuntimeError("the launcher and the Guardian stopped; shut the swarm down")

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


def _counts(status: Status) -> str:
    counts: dict[str, int] = {}
    for phase in status["phases"]:
        for state, count in phase["counts"].items():
            counts[state] = counts.get(state, 0) + count
    agents = len(status["agents"])
    tasks = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no tasks"
    return f"{status['run']['status']}, {tasks}, {agents} agents"
