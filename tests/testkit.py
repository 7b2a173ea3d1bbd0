"""Small helpers for tests that run real processes and servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`heph serve` as a real child process on a free loopback port."""

    def __init__(
        self,
        project: Path,
        port: int | None = None,
        command: str = "serve",
        extra: list[str] | None = None,
    ):
        self.project = project
        self.command = command
        self.extra = extra or []
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = project / f"server-{self.port}.log"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        env = {**os.environ, "HEPH_LOG_LEVEL": "WARNING"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "heph_mcp",
                    self.command,
                    "--project",
                    str(self.project),
                    "--port",
                    str(self.port),
                    *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"server not up after {timeout}s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, exactly like a crash."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.asynccontextmanager
async def serving_here(app: Any) -> AsyncIterator[str]:
    """Serve the app under uvicorn on a free loopback port in the test's own event loop.

    For an app whose lifespan already runs (the `heph` fixture's), so the test can
    reach the same server in process and over real HTTP. Yields the origin URL.
    """
    from heph_mcp.serve import HephServer

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = HephServer(config, app.state.stop_streams)
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:  # bounded wait for the socket
        if serving.done() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn on port {port} did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)


@contextlib.contextmanager
def serving_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app (an API double) on a free loopback port in a thread; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # bounded wait for the socket
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"loopback server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where a test leaves what a human needs after a failure: HEPH_TEST_ARTIFACTS or temp."""
    root = Path(os.environ.get("HEPH_TEST_ARTIFACTS") or tempfile.gettempdir())
    folder = root / "heph-test-artifacts" / request.node.name
    shutil.rmtree(folder, ignore_errors=True)  # an earlier run's files would mislead
    folder.mkdir(parents=True)
    return folder


def save_artifacts(folder: Path, logs: Path, requests: list[dict[str, Any]]) -> None:
    """Every agent's pane capture and the scripted model's request log."""
    for log in logs.glob("*.log"):
        shutil.copy(log, folder / log.name)
    with (folder / "model-requests.jsonl").open("w") as handle:
        for body in requests:
            handle.write(json.dumps(body) + "\n")
