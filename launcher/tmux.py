"""tmux, as the launcher and the Guardian need it: start, watch, read and end sessions.

Commands are started from an argument list (tmux runs them without a shell),
so nothing in a path or a template is ever interpreted. Panes stay after
their program exits (`remain-on-exit`), so the launcher can read why an agent
died. Only sessions named by the caller are ever touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import libtmux
from libtmux.exc import LibTmuxException

ENV_EXEC = Path(__file__).with_name("env_exec.py")
SERVER_GONE = ("no server running", "error connecting", "no current target")
KILL_WAIT = 5.0  # seconds a killed agent gets to exit before the launcher goes on
PANE_FORMAT = "#{session_name}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_current_command}"


class TmuxError(RuntimeError):
    """A tmux command failed; the message says which and how to fix it."""


@dataclass(frozen=True)
class PaneState:
    session: str
    dead: bool
    exit_status: int | None
    command: str


def require_tmux() -> None:
    if shutil.which("tmux") is None:
        raise TmuxError("tmux not found: apt-get install tmux (or brew install tmux)")


def literal(arg: str) -> str:
    """tmux reads an argument ending in `;` as a command separator; `\\;` keeps it literal."""
    return arg[:-1] + "\\;" if arg.endswith(";") else arg


def no_formats(path: Path) -> str:
    """tmux expands formats in a start folder (`#S`, `#{...}`, `#(cmd)` runs a command);
    `##` is a literal `#`, so a path is taken as it is."""
    return str(path).replace("#", "##")


def env_file(env: Mapping[str, str]) -> str:
    """Write `env` to a file only we can read, for env_exec.py to load and delete."""
    fd, path = tempfile.mkstemp(prefix="heph-env-", suffix=".json")
    with os.fdopen(fd, "w") as handle:  # mkstemp makes it 0600
        json.dump(dict(env), handle)
    return path


class Tmux:
    """One tmux server: the user's default one, or a private socket (tests, `--tmux-socket`)."""

    def __init__(self, socket_name: str | None = None):
        require_tmux()
        self.socket_name = socket_name
        self._server = libtmux.Server(socket_name=socket_name)

    def _cmd(self, *args: str) -> list[str]:
        try:
            result = self._server.cmd(*args)
        except LibTmuxException as exc:
            raise TmuxError(f"tmux {args[0]} failed: {exc}") from None
        if result.returncode not in (0, None) and result.stderr:
            raise TmuxError(f"tmux {args[0]} failed: {' '.join(result.stderr)}")
        return list(result.stdout)

    async def call(self, method: str, *args: object) -> object:
        """Run one of this adapter's blocking methods off the event loop."""
        return await asyncio.to_thread(getattr(self, method), *args)

    def start(
        self, name: str, cwd: Path, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> None:
        """Start `argv` (no shell) in a new detached session; the pane outlives the program.

        `env` never goes on tmux's command line (`ps` shows it to everyone): it goes
        through a private file that env_exec.py reads, deletes, then execs `argv`.
        """
        secrets = env_file(env) if env else None
        if secrets is not None:
            argv = [sys.executable, "-I", str(ENV_EXEC), secrets, "--", *argv]
        try:
            self._start(name, no_formats(cwd), argv)
        except TmuxError:
            if secrets is not None and os.path.exists(secrets):
                os.unlink(secrets)
            raise

    def _start(self, name: str, cwd: str, argv: Sequence[str]) -> None:
        # A placeholder process holds the pane until remain-on-exit is set; only then is the
        # agent's program started in it, so even an instant exit leaves its status readable.
        self._cmd(
            "new-session", "-d", "-s", name, "-x", "200", "-y", "50", "-c", cwd,
            "--", "sleep", "600", ";",
            "set-option", "-t", f"={name}:", "remain-on-exit", "on", ";",
            "respawn-pane", "-k", "-t", f"={name}:", "-c", cwd,
            "--", *map(literal, argv),
        )  # fmt: skip

    def panes(self) -> dict[str, PaneState]:
        """Every session's first pane in one tmux call (an absent server has none)."""
        try:
            lines = self._cmd("list-panes", "-a", "-F", PANE_FORMAT)
        except TmuxError as exc:
            # "no current target": the server's last session just ended and it is exiting.
            if any(gone in str(exc) for gone in SERVER_GONE):
                return {}
            raise
        states: dict[str, PaneState] = {}
        for line in lines:
            session, dead, status, command = (line.split("\t") + ["", "", ""])[:4]
            if session not in states:
                code = int(status) if status.lstrip("-").isdigit() else None
                states[session] = PaneState(session, dead == "1", code, command)
        return states

    def exists(self, name: str) -> bool:
        return name in self.panes()

    def capture(self, name: str, lines: int = 40) -> str:
        """The last `lines` non-blank lines of the session's pane, or '' if it is gone."""
        try:
            text = self._cmd("capture-pane", "-p", "-J", "-t", f"={name}:", "-S", f"-{lines}")
        except TmuxError:
            return ""
        kept = [line.rstrip() for line in text if line.strip()]
        return "\n".join(kept[-lines:])

    def send_literal(self, name: str, text: str, enter: bool = True) -> None:
        """Type `text` into the pane as literal keys (never interpreted by tmux or a shell)."""
        self._cmd("send-keys", "-t", f"={name}:", "-l", "--", literal(text))
        if enter:
            self._cmd("send-keys", "-t", f"={name}:", "Enter")

    def kill(self, name: str, wait: float = KILL_WAIT) -> bool:
        """End the named session (exact name match); False if it was already gone.

        Returns once the pane's program has exited (at most `wait` seconds): on hangup an
        agent CLI still writes its transcript's last lines into folders the caller reads
        or removes next.
        """
        try:
            pid = self._cmd("display-message", "-p", "-t", f"={name}:", "#{pane_pid}")
            self._cmd("kill-session", "-t", f"={name}")
        except TmuxError:
            return False
        if pid and pid[0].isdigit():
            wait_for_exit(int(pid[0]), wait)
        return True


def wait_for_exit(pid: int, timeout: float) -> None:
    """Block until process `pid` has ended (or `timeout`); one that is already gone returns."""
    try:
        handle = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return
    try:
        select.select([handle], [], [], timeout)
    finally:
        os.close(handle)
