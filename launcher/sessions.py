"""What the launcher remembers about each agent it started, and how it judges one.

Judging is pure (server record + pane state in, verdict out) so the rules
for "finished", "died" and "never started" are tested without tmux.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from heph_mcp.printable import printable
from heph_mcp.services.common import task_branch
from heph_mcp.settings import Settings
from launcher.dialogs import find_dialog
from launcher.tmux import PaneState

Verdict = Literal["gone", "finished", "handed_off", "stopped", "died", "no_start"]
STOPPED_STATUSES = ("failed", "cancelled", "duplicate")

DIALOG_LINES = 40  # the bottom of the pane, where a dialog would be


@dataclass
class AgentSession:
    agent_id: str
    task_id: str
    run_id: str
    title: str
    session: str
    worktree: Path
    agent_dir: Path
    token: str = field(default="", repr=False)
    started: float = field(default_factory=time.monotonic)
    confirmed: bool = False
    kind: str = "work"  # or a validator's: "validation", "result_validation"
    validates: str | None = None
    private_dir: Path | None = None  # its MCP config and settings, outside the state folder

    def __post_init__(self) -> None:
        plain_segment(self.session, "session name")

    @property
    def private(self) -> Path:
        """Its private folder (the agent folder itself for sessions made without one)."""
        return self.private_dir or self.agent_dir

    @property
    def branch(self) -> str:
        return task_branch(self.run_id, self.task_id)


def plain_segment(name: str, what: str) -> str:
    """`name`, if it is one ordinary folder name. A name becomes folders that are later
    removed with rmtree: `..` would be the state folder, `.` every agent's folder."""
    plain = name.isprintable() and name[:1] not in ("", ".") and not any(c in name for c in "/\\")
    if not plain:
        raise ValueError(f"{what} {name!r} is not a plain folder name: letters, digits, _ - .")
    return name


def session_name(run_id: str, task_id: str) -> str:
    return f"heph-{run_id}-{task_id}"


def judge(
    session: AgentSession,
    agent: dict[str, Any] | None,
    pane: PaneState | None,
    start_timeout: float,
) -> Verdict | None:
    """What must happen to this session now, or None while it is healthy."""
    if agent is None:
        return "gone"  # the server already ended it (a lease expired, or an operator)
    status = agent.get("task_status")
    if status == "done":
        return "finished"
    if status == "validating":
        return "handed_off"  # its work waits for a validator; the session has nothing to do
    if status in STOPPED_STATUSES:
        return "stopped"
    if pane is None or pane.dead:
        return "died"
    if agent.get("last_seen_at"):
        session.confirmed = True
    if not session.confirmed and time.monotonic() - session.started > start_timeout:
        return "no_start"
    return None


def session_of(agent: dict[str, Any], settings: Settings) -> AgentSession:
    """Rebuild what the launcher knew about an agent from the server's record of it."""
    name = agent["session_name"]
    worktree = agent.get("worktree") or str(
        settings.worktrees_dir / f"{agent['run_id']}-{agent['task_id']}"
    )
    return AgentSession(
        agent["id"], agent["task_id"], agent["run_id"], "",
        name, Path(worktree), settings.agents_dir / name,
        private_dir=settings.private_dir / name,
    )  # fmt: skip


def end_reason(
    verdict: Verdict, agent: dict[str, Any] | None, pane: PaneState | None, settings: Settings
) -> str:
    if verdict == "finished":
        return "finished: task done"
    if verdict == "handed_off":
        return "its task went to a validator"
    if verdict == "stopped":
        return f"task is {agent.get('task_status') if agent else 'closed'}; session ended"
    if verdict == "no_start":
        return f"the agent made no MCP call within {settings.start_timeout:.0f}s of starting"
    if verdict == "died":
        code = "" if pane is None else f" (exit status {pane.exit_status})"
        return f"the agent's session ended before it reported its task{code}"
    return "the server had already ended this agent"


def with_pane(verdict: Verdict, reason: str, pane: str) -> str:
    """A session that died or never started: say what its pane showed last, and name the
    dialog (trust, login, approval...) that held an agent that never started."""
    if verdict not in ("died", "no_start") or not pane:
        return reason
    lines = pane.splitlines()
    dialog = find_dialog(lines[-DIALOG_LINES:]) if verdict == "no_start" else None
    if dialog is not None:
        reason = f"{reason}: it was held by {dialog.held_by()}"
    return f"{reason}; last lines of its pane:\n" + printable("\n".join(lines[-15:]))
