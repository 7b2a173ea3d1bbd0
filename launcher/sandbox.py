"""The agents' sandbox on this host: check that it really works, and confine non-Claude CLIs.

Claude Code sandboxes its own shell commands with bubblewrap and socat (Linux)
or Seatbelt (macOS) from the settings we write. Other CLIs run whole inside
bubblewrap, built from the same plan (claude_config/confinement.py). Either
way `heph up` first runs a real probe: a sandbox that cannot start would leave
every agent asking for approval, and one that starts but leaks would be worse.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from claude_config.confinement import Confinement, user_secrets
from claude_config.templates import CliTemplate
from heph_mcp.settings import Settings
from launcher.sessions import AgentSession

OPT_OUT = (
    "or run with --no-sandbox (HEPH_AGENT_SANDBOX=false), which lets every agent read and"
    " change anything your user can, the tokens in .hephaestus/secrets included"
)
PROBE_SECRET = "heph-sandbox-probe"


class SandboxError(RuntimeError):
    """The sandbox cannot run here; the message names the cause and the fix."""


def check_sandbox() -> None:
    """Probe the sandbox: a command runs, writes its folder, and cannot read a hidden one."""
    if platform.system() == "Darwin":
        _check_macos()
        return
    missing = [tool for tool in ("bwrap", "socat") if shutil.which(tool) is None]
    if missing:
        raise SandboxError(
            f"agent sandbox unavailable: {' and '.join(missing)} not found:"
            f" apt-get install bubblewrap socat, {OPT_OUT}"
        )
    with tempfile.TemporaryDirectory(prefix="heph-probe-") as folder:
        _probe(Path(folder))


def _probe(folder: Path) -> None:
    hidden, work = folder / "hidden", folder / "work"
    hidden.mkdir()
    work.mkdir()
    (hidden / "token").write_text(PROBE_SECRET)
    plan = Confinement(work, work / "brief.md", work, hidden, hidden / "private", scratch=work)
    script = f"cat {hidden}/token 2>/dev/null; echo ok > {work}/written; echo ran"
    done = subprocess.run(
        bwrap_argv(plan, ["sh", "-c", script]), capture_output=True, text=True, timeout=30
    )
    ran = done.returncode == 0 and "ran" in done.stdout
    if not ran or not (work / "written").is_file():
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SandboxError(
            f"agent sandbox unavailable: bubblewrap could not start a sandbox ({reason[0]}):"
            " allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1;"
            f" on Ubuntu 24.04 also kernel.apparmor_restrict_unprivileged_userns=0), {OPT_OUT}"
        )
    if PROBE_SECRET in done.stdout:
        raise SandboxError(f"agent sandbox unavailable: a hidden folder was readable; {OPT_OUT}")


def _check_macos() -> None:
    probe = ["sandbox-exec", "-p", "(version 1)(allow default)", "true"]
    if shutil.which("sandbox-exec") is None or subprocess.run(probe, check=False).returncode:
        raise SandboxError(f"agent sandbox unavailable: sandbox-exec does not run; {OPT_OUT}")


def bwrap_argv(plan: Confinement, argv: list[str]) -> list[str]:
    """`argv` inside bubblewrap: the whole system read-only, Hephaestus' state hidden, the
    agent's own worktree, git objects and scratch folder writable, its own files readable.

    Later mounts win, so hidden folders are emptied first and the agent's own parts of
    them are mounted back on top. The network is shared: the CLI talks to the server.
    """
    args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--ro-bind", "/", "/"]
    args += ["--dev", "/dev", "--proc", "/proc"]
    for variable in HOST_SOCKETS:
        args += ["--unsetenv", variable]
    for folder in (*_shared_sockets(), *plan.hidden):
        if os.path.isfile(folder):
            args += ["--ro-bind", "/dev/null", str(folder)]  # a credential file: empty
        else:
            args += ["--tmpfs", str(folder)]
    judged = [plan.worktree, plan.git_dir] if plan.read_only else []
    git_seen = [plan.git_dir] if plan.git_read_only else []
    for path in _existing(plan.brief, plan.private, *judged, *git_seen):
        args += ["--ro-bind", str(path), str(path)]
    writable = [plan.scratch] if plan.read_only else [plan.worktree, plan.scratch]
    writable += [] if plan.read_only or plan.git_read_only else [plan.git_dir]
    for path in _existing(*writable, *plan.extra_writable):
        args += ["--bind", str(path), str(path)]
    for path in _existing(*plan.git_guarded):  # -try: a merged branch's ref may go meanwhile
        args += ["--ro-bind-try", str(path), str(path)]
    return [*args, "--chdir", str(plan.worktree), "--", *argv]


COMMON_GUARDED = (
    "HEAD", "index", "config", "hooks", "info", "packed-refs", "shallow",
    "refs/tags", "refs/remotes", "refs/replace", "refs/notes", "refs/stash",
)  # fmt: skip
ADMIN_GUARDED = ("HEAD", "commondir", "gitdir", "config.worktree")


def git_guarded(git_dir: Path, worktree: Path, branch: str) -> tuple[Path, ...]:
    """What an agent's commits never need to change, and git or the user would trust.

    Git runs what its config and hooks say; the user's HEAD, index and branches are the
    user's; the worktree's HEAD and links tie it to its own branch. Only paths that exist
    are listed: a denied path that does not exist would be made into an unreadable stub.
    """
    admin = _admin_dir(worktree)
    guarded = [git_dir / name for name in COMMON_GUARDED]
    guarded += [admin / name for name in ADMIN_GUARDED] if admin else []
    guarded.append(worktree / ".git")
    heads, own = git_dir / "refs" / "heads", git_dir / "refs" / "heads" / branch
    guarded += [ref for ref in heads.rglob("*") if ref.is_file() and ref != own]
    return tuple(p for p in guarded if os.path.lexists(p))


def _admin_dir(worktree: Path) -> Path | None:
    """The worktree's folder in the git dir, read before its agent ever starts."""
    pointer = worktree / ".git"
    if not pointer.is_file():
        return None
    line = pointer.read_text().strip()
    return Path(line.removeprefix("gitdir:").strip()) if line.startswith("gitdir:") else None


# Sockets that lead out of any sandbox: the tmux server that runs the agents (it would run
# a command for anyone who asks), the user's ssh agent, D-Bus and systemd.
HOST_SOCKETS = ("TMUX", "TMUX_PANE", "SSH_AUTH_SOCK", "DBUS_SESSION_BUS_ADDRESS")


def _shared_sockets() -> list[Path]:
    """Folders where such sockets live; the agent's own parts of /tmp are mounted back."""
    runtime = Path(f"/run/user/{os.getuid()}")
    return [Path(tempfile.gettempdir()), *([runtime] if runtime.is_dir() else [])]


def _existing(*paths: Path | None) -> list[Path]:
    return [p for p in paths if p is not None and os.path.exists(p)]


def plan_for(
    settings: Settings,
    session: AgentSession,
    enforcer: str,
    git_dir: Path,
    proxy: tuple[int, int] | None,
) -> Confinement:
    """One agent's plan: its worktree, its brief, its private folder; a validator's frozen."""
    private = session.private
    plan = Confinement(
        worktree=session.worktree, brief=session.agent_dir / "brief.md", private=private,
        state_dir=settings.state_dir, private_root=settings.private_root, git_dir=git_dir,
        scratch=private / "tmp" if enforcer == "bwrap" else None,
        network=tuple(settings.network_allowed_domains),
        extra_writable=tuple(settings.agent_writable_paths), proxy=proxy,
        git_guarded=git_guarded(git_dir, session.worktree, session.branch),
        user_secrets=user_secrets(Path.home()) + _token_file(settings),
    )  # fmt: skip
    return plan.freeze() if session.kind != "work" else plan


def _token_file(settings: Settings) -> tuple[Path, ...]:
    """A worker's ops token kept outside the state folder is hidden from agents too."""
    path = settings.ops_token_file
    return (path.expanduser().resolve(),) if path is not None and path.exists() else ()


def confined_argv(template: CliTemplate, plan: Confinement | None, argv: list[str]) -> list[str]:
    """Claude Code confines its own commands; any other CLI runs inside bubblewrap."""
    if plan is None or template.sandbox != "bwrap":
        return argv
    return bwrap_argv(plan, argv)


def check_plan(settings: Settings, scratch: Path, git_dir: Path) -> Confinement:
    """A merge's verify command runs agents' code too: the same walls, its checkout writable,
    the git dir readable only."""
    return Confinement(
        worktree=scratch, brief=scratch, private=scratch, state_dir=settings.state_dir,
        private_root=settings.private_root, git_dir=git_dir, scratch=scratch,
        network=tuple(settings.network_allowed_domains), git_read_only=True,
        extra_writable=tuple(settings.agent_writable_paths), user_secrets=user_secrets(Path.home()),
    )  # fmt: skip


SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL|^HEPH_", re.IGNORECASE)


def check_env(env: Mapping[str, str]) -> dict[str, str]:
    """The launcher's environment without its credentials (API keys, tokens)."""
    return {name: value for name, value in env.items() if not SECRET_NAME.search(name)}
