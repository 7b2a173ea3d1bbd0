"""What one agent's sandbox lets it see and change: one plan, enforced two ways.

Claude Code enforces it with its own sandbox (settings written per agent);
other CLIs run inside bubblewrap built from the same plan (launcher/sandbox.py).
The plan's promise: an agent works freely in its worktree, commits to its
branch, and cannot read Hephaestus' state (tokens, database, other agents'
folders and worktrees) or any other agent's private files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path

OPEN_NETWORK = ("*",)
# The user's own credentials in their home folder: an agent has no business reading them,
# and with an open network it could send them anywhere.
USER_SECRETS = (
    ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker/config.json", ".netrc",
    ".git-credentials", ".npmrc", ".pypirc", ".config/gh", ".config/gcloud",
    ".claude/.credentials.json",
)  # fmt: skip
SANDBOX_EXCLUDES = Path(__file__).with_name("sandbox.gitignore")


def network_is_open(domains: Iterable[str]) -> bool:
    """`network_allowed_domains` of ['*'] is the open network; anything else a list."""
    return tuple(domains) == OPEN_NETWORK


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """`example.com` matches itself; `*.example.com` its subdomains (and itself); `*` all."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower()
        if fnmatchcase(host, pattern) or (pattern.startswith("*.") and host == pattern[2:]):
            return True
    return False


@dataclass(frozen=True)
class Confinement:
    worktree: Path
    brief: Path  # the brief file: the one thing of ours the agent reads
    private: Path  # its own MCP config and settings: read by its CLI, never by its commands
    state_dir: Path  # .hephaestus: tokens, database, logs, every agent's worktree and brief
    private_root: Path  # every agent's private folder
    git_dir: Path | None = None  # the repository's common git dir, written by commits
    scratch: Path | None = None  # a writable temp folder (TMPDIR) for wrapped CLIs
    read_only: bool = False  # a validator: it judges the worktree and never changes it
    network: tuple[str, ...] = OPEN_NETWORK
    extra_writable: tuple[Path, ...] = ()  # folders the user lets every agent write (caches)
    proxy: tuple[int, int] | None = None  # the launcher's network gate (HTTP, SOCKS) ports
    # Inside the writable git dir, what must not move: the user's HEAD, index, config and
    # hooks, every branch but the agent's own, the worktree's own HEAD and links.
    git_guarded: tuple[Path, ...] = ()
    git_read_only: bool = False  # a merge's verify check reads the git dir, never writes it
    user_secrets: tuple[Path, ...] = ()  # those of USER_SECRETS that exist, hidden too
    frozen: tuple[Path, ...] = field(default=())  # set by `freeze` for a validator

    def freeze(self) -> Confinement:
        """A validator's plan: every entry of its worktree unwritable (file modes do not stop
        root; the sandbox does). New files may appear but nothing it judges can change."""
        entries = tuple(sorted(self.worktree.iterdir())) if self.worktree.is_dir() else ()
        return replace(self, read_only=True, frozen=entries)

    @property
    def hidden(self) -> tuple[Path, ...]:
        """What no agent's command may see: Hephaestus' state, and every agent's private
        folder (of every project of this user)."""
        return (self.state_dir, self.private_root, *self.user_secrets)


def claude_sandbox(plan: Confinement) -> dict[str, object]:
    """Claude Code's `sandbox` settings for the plan (measured with Claude Code 2.1.331)."""
    filesystem: dict[str, list[str]] = {
        "denyRead": [str(p) for p in plan.hidden],
        "allowRead": [str(plan.worktree), str(plan.brief)],
    }
    deny_write = [*plan.git_guarded, *plan.frozen]
    if deny_write:
        filesystem["denyWrite"] = [str(p) for p in deny_write]
    if plan.extra_writable:
        filesystem["allowWrite"] = [str(p) for p in plan.extra_writable]
    network: dict[str, object] = {"allowedDomains": list(plan.network), "allowLocalBinding": True}
    if plan.proxy is not None:
        # Our gate decides every host at once; Claude Code's own proxies would ask in the pane.
        network["httpProxyPort"], network["socksProxyPort"] = plan.proxy
    return {
        "enabled": True,
        # A missing sandbox must stop the agent, not leave it asking before each command.
        "failIfUnavailable": True,
        "autoAllowBashIfSandboxed": True,
        "allowUnsandboxedCommands": False,
        "network": network,
        "filesystem": filesystem,
    }


def claude_denials(plan: Confinement) -> list[str]:
    """Permission rules for Claude Code's own file tools, which its sandbox does not cover.

    Claude Code resolves links before it checks these, so a link in the worktree
    does not reach them either. The rest of the state folder is refused by the
    approval policy on the server (a read outside the worktree asks it).
    """
    roots = [plan.state_dir / "secrets", plan.private_root, *plan.user_secrets]
    return [
        f"{tool}(/{root}/**)" if root.is_dir() or not root.exists() else f"{tool}(/{root})"
        for root in roots
        for tool in ("Read", "Edit")
    ]


def claude_git_env() -> dict[str, str]:
    """Git settings for a Claude Code agent's commands: ignore its sandbox's placeholders.

    Passed as environment (git's GIT_CONFIG_* variables) so nothing is written to the
    user's repository or global config; it stands in for a global excludes file.
    """
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.excludesFile",
        "GIT_CONFIG_VALUE_0": str(SANDBOX_EXCLUDES),
    }


def user_secrets(home: Path) -> tuple[Path, ...]:
    """The user's credential files and folders that exist (a missing one needs no hiding)."""
    return tuple(home / name for name in USER_SECRETS if (home / name).exists())
