"""Decide an agent's approval request: hard limits first, then the workflow's rules, then ours.

Pure functions over plain data, so every rule is tested without a server.
The order matters: a path in Hephaestus' own state (tokens, the database,
other agents' folders and worktrees) is refused whatever a workflow says;
then the phase's and workflow's rules; then built-in rules that make an
unattended agent work (a sandboxed shell command needs no human); then the
default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phases.approvals import (
    DEFAULT_DECISION,
    DEFAULT_TIMEOUT,
    ApprovalPolicy,
    ApprovalRule,
    Decision,
)

# The key of tool_input that names what a tool acts on, in order of preference.
SUBJECT_KEYS = ("command", "file_path", "notebook_path", "path", "url", "query", "pattern")
FILE_TOOLS = ("Read", "Edit", "Write", "MultiEdit", "NotebookEdit", "NotebookRead", "LS")
EDIT_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
SUBJECT_MAX = 2000


@dataclass(frozen=True)
class Boundary:
    """What one agent may touch: its worktree and brief folder, never the rest of our state."""

    worktree: Path
    brief_dir: Path
    protected: tuple[Path, ...]  # the state folder and the agents' private folders


@dataclass(frozen=True)
class Ruling:
    decision: Decision
    by: str  # who decided: "hephaestus", "policy:<n>", "built-in:<what>", "default"
    message: str = ""
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Request:
    tool: str
    input: dict[str, Any] = field(default_factory=dict)
    cwd: str = ""
    sandboxed: bool = False

    @property
    def subject(self) -> str:
        for key in SUBJECT_KEYS:
            value = self.input.get(key)
            if isinstance(value, str) and value:
                return value[:SUBJECT_MAX]
        return ""


BUILT_IN: tuple[tuple[ApprovalRule, str, bool], ...] = (
    # (rule, why, needs the agent to be sandboxed)
    (ApprovalRule(tool="Bash", decision="allow"), "shell commands run inside the sandbox", True),
    (ApprovalRule(tool="AskUserQuestion", decision="ask"), "a question is for the user", False),
    (ApprovalRule(tool="ExitPlanMode", decision="allow"), "no human reviews plans", False),
    (ApprovalRule(tool="Read", decision="allow"), "reading outside the worktree", False),
    (ApprovalRule(tool="WebFetch", decision="allow"), "the network is open", False),
    (ApprovalRule(tool="WebSearch", decision="allow"), "the network is open", False),
)


def decide(
    request: Request,
    boundary: Boundary,
    workflow: ApprovalPolicy,
    phase: ApprovalPolicy | None = None,
) -> Ruling:
    """The ruling for one request; `ask` means a question for the user until the timeout."""
    timeout = _first(phase and phase.timeout, workflow.timeout, DEFAULT_TIMEOUT)
    hard = _hard_limit(request, boundary)
    if hard is not None:
        return Ruling("deny", "hephaestus", hard, timeout)
    rules = [*(phase.rules if phase else []), *workflow.rules]
    for index, rule in enumerate(rules, start=1):
        if rule.applies(request.tool, request.subject):
            return Ruling(rule.decision, f"policy:{index}", rule.message, timeout)
    for rule, why, needs_sandbox in BUILT_IN:
        if rule.applies(request.tool, request.subject) and (request.sandboxed or not needs_sandbox):
            return Ruling(rule.decision, f"built-in: {why}", "", timeout)
    if request.tool in EDIT_TOOLS:
        message = f"edit only inside your worktree {boundary.worktree}; create a task instead"
        return Ruling("deny", "built-in: edits stay in the worktree", message, timeout)
    default = _first(phase and phase.default, workflow.default, DEFAULT_DECISION)
    return Ruling(default, "default", "", timeout)  # type: ignore[arg-type]


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def _hard_limit(request: Request, boundary: Boundary) -> str | None:
    """A refusal no policy can lift: Hephaestus' own files are out of every agent's reach."""
    if request.tool not in FILE_TOOLS and "path" not in request.input:
        return None
    raw = request.subject if request.tool in FILE_TOOLS else str(request.input.get("path", ""))
    if not raw:
        return None
    path = resolved(raw, request.cwd or str(boundary.worktree))
    if _inside(path, boundary.worktree) or _inside(path, boundary.brief_dir):
        return None
    if any(_inside(path, root) for root in boundary.protected):
        return (
            f"{raw} belongs to Hephaestus (tokens, its database, other agents' folders and"
            " worktrees): no agent may read or change it. Work inside your worktree; ask for"
            " what you need with create_task or find_memories."
        )
    return None


def resolved(path: str, cwd: str) -> Path:
    """The real file a path names: a link inside the worktree may point anywhere."""
    joined = os.path.join(cwd, os.path.expanduser(path))
    return Path(os.path.realpath(joined))


def _inside(path: Path, root: Path) -> bool:
    real = Path(os.path.realpath(root))
    return path == real or real in path.parents
