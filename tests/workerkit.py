"""Workers on "other hosts" for tests and benches: `heph worker` processes, each in its own
clone (made over the server's /git/ URL), its own tmux server and state, reaching the
server only through its URL with the ops token from a file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from swarmkit import AGENT, exchange_folder

from heph_mcp.identity import local_token
from heph_mcp.settings import Settings
from launcher.remote import git_url

HEPH = Path(sys.executable).parent / "heph"


def token_env(token: str) -> dict[str, str]:
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}",
        "GIT_TERMINAL_PROMPT": "0",
    }


def token_file(server: Settings, folder: Path) -> Path:
    """The ops token copied to a worker host, mode 0600."""
    path = folder / "ops.token"
    path.write_text(local_token(server.secrets_dir, "ops"))
    path.chmod(0o600)
    return path


def clone_over_http(server: Settings, dest: Path) -> Path:
    env = os.environ | token_env(local_token(server.secrets_dir, "ops"))
    done = subprocess.run(
        ["git", "clone", "-q", git_url(server.url), str(dest)], env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dest


@dataclass
class WorkerProcess:
    worker_id: str
    clone: Path
    tmux_socket: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill9(self) -> None:
        """The host goes away: the worker is killed outright and its agents with it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._kill_tmux()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._kill_tmux()

    async def ready(self, timeout: float = 120) -> None:
        """Bounded wait for the worker's checks to pass (it logs "ready" before claiming)."""
        deadline = time.monotonic() + timeout
        while "ready" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise TimeoutError(f"worker {self.worker_id} not ready:\n{self.output()}")
            await asyncio.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def _kill_tmux(self) -> None:
        subprocess.run(["tmux", "-L", self.tmux_socket, "kill-server"], capture_output=True)


def start_worker(
    server: Settings,
    root: Path,
    worker_id: str,
    *,
    slots: int,
    labels: tuple[str, ...] = (),
    agent: Path = AGENT,
    watch_interval: float = 0.2,
) -> WorkerProcess:
    """`heph worker` in a fresh clone under `root/worker_id`, as a child process."""
    home = root / worker_id
    home.mkdir()
    clone = clone_over_http(server, home / "clone")
    socket = f"heph-worker-{uuid.uuid4().hex[:8]}"
    env = os.environ | {
        "HEPH_WATCH_INTERVAL": str(watch_interval),
        "HEPH_POLL_INTERVAL": "1",
        "HEPH_START_TIMEOUT": "30",
        "HEPH_LEASE_SECONDS": str(server.lease_seconds),
        "HEPH_MAX_CONCURRENT_AGENTS": str(server.max_concurrent_agents),
        "HEPH_GUARDIAN_JUDGE": "heuristic",
        "HEPH_AGENT_WRITABLE_PATHS": json.dumps([str(exchange_folder(server.project))]),
    }
    command = f"{sys.executable} {agent} --brief {{brief}} --mcp-config {{mcp_config}}"
    argv = [
        str(HEPH), "worker", "--server", server.url, "--project", str(clone),
        "--token-file", str(token_file(server, home)), "--worker-id", worker_id,
        "--slots", str(slots), "--agent-cli", "custom", "--agent-command", command,
        "--tmux-socket", socket,
    ]  # fmt: skip
    if labels:
        argv += ["--labels", ",".join(labels)]
    log = home / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    return WorkerProcess(worker_id, clone, socket, process, log)
