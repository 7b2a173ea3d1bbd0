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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claude_config.confinement import OPEN_NETWORK, host_allowed, network_is_open
from phases.approvals import (
    DEFAULT_DECISION,
    DEFAULT_TIMEOUT,
    ApprovalPolicy,
    ApprovalRule,
    Decision,
)

# The key of tool_input that names what a tool acts on, in order of preference.
SUBJECT_KEYS = ("command", "file_path", "notebook_path", "path", "url", "query", "pattern")
PATH_KEYS = ("file_path", "notebook_path", "path")
EDIT_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
NETWORK_TOOLS = ("WebFetch", "WebSearch")
SUBJECT_MAX = 2000
GLOB_CHARS = re.compile(r"[*?\[{]")


@dataclass(frozen=True)
class Boundary:
    """What one agent may touch: its worktree and brief folder, never the rest of our state."""

    worktree: Path
    brief_dir: Path
    protected: tuple[Path, ...]  # the state folder, agents' private folders, user credentials


@dataclass(frozen=True)
class Ruling:
    decision: Decision
    by: str  # who decided: "hephaestus", "policy:<n>", "built-in:<what>", "default"
    message: str = ""
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Asked:
    tool: str
    input: dict[str, Any] = field(default_factory=dict)
    cwd: str = ""
    sandboxed: bool = False
    network: tuple[str, ...] = OPEN_NETWORK  # the agent's network_allowed_domains

    @property
    def subject(self) -> str:
        """What the tool acts on: a command, a path, a URL, or a question's text."""
        if self.tool == "AskUserQuestion":
            return " / ".join(question_texts(self.input))[:SUBJECT_MAX]
        for key in SUBJECT_KEYS:
            value = self.input.get(key)
            if isinstance(value, str) and value:
                return value[:SUBJECT_MAX]
        return ""

    def paths(self) -> list[str]:
        """Every path the request names: file arguments, and a glob pattern's fixed part."""
        found = [v for k in PATH_KEYS if isinstance(v := self.input.get(k), str) and v]
        pattern = self.input.get("pattern")
        if isinstance(pattern, str) and pattern.startswith(("/", "~")):
            found.append(GLOB_CHARS.split(pattern, 1)[0] or "/")
        return found


def question_texts(tool_input: dict[str, Any]) -> list[str]:
    """The questions an AskUserQuestion input asks, as their text."""
    questions = tool_input.get("questions") or []
    return [str(q.get("question", "")) for q in questions if isinstance(q, dict)]


BUILT_IN: tuple[tuple[ApprovalRule, str, bool], ...] = (
    # (rule, why, needs the agent to be sandboxed)
    (ApprovalRule(tool="Bash", decision="allow"), "shell commands run inside the sandbox", True),
    (ApprovalRule(tool="AskUserQuestion", decision="ask"), "a question is for the user", False),
    (ApprovalRule(tool="ExitPlanMode", decision="allow"), "no human reviews plans", False),
    (ApprovalRule(tool="Read", decision="allow"), "reading outside the worktree", False),
)


def decide(
    request: Asked,
    boundary: Boundary,
    workflow: ApprovalPolicy,
    phase: ApprovalPolicy | None = None,
) -> Ruling:
    """The ruling for one request; `ask` means a question for the user until the timeout."""
    timeout = _first(phase and phase.timeout, workflow.timeout, DEFAULT_TIMEOUT)
    hard = _hard_limit(request, boundary)
    if hard is not None:
        return Ruling("deny", "hephaestus", hard, timeout)
    subjects = _subjects(request, boundary)
    rules = [*(phase.rules if phase else []), *workflow.rules]
    for index, rule in enumerate(rules, start=1):
        if any(rule.applies(request.tool, subject) for subject in subjects):
            return Ruling(rule.decision, f"policy:{index}", rule.message, timeout)
    built_in = _built_in(request, boundary)
    if built_in is not None:
        return Ruling(*built_in, timeout=timeout)
    default = _first(phase and phase.default, workflow.default, DEFAULT_DECISION)
    return Ruling(default, "default", "", timeout)  # type: ignore[arg-type]


def _subjects(request: Asked, boundary: Boundary) -> list[str]:
    """A file tool's rules see the real path too (`..` and links resolved)."""
    if request.input.get("file_path") or request.input.get("notebook_path"):
        cwd = request.cwd or str(boundary.worktree)
        return [request.subject, str(resolved(request.subject, cwd))]
    return [request.subject]


def _built_in(request: Asked, boundary: Boundary) -> tuple[Decision, str, str] | None:
    """What an unattended agent needs when no rule of the workflow says otherwise."""
    for rule, why, needs_sandbox in BUILT_IN:
        if rule.applies(request.tool, request.subject) and (request.sandboxed or not needs_sandbox):
            return rule.decision, f"built-in: {why}", ""
    if request.tool in EDIT_TOOLS:
        cwd = request.cwd or str(boundary.worktree)
        if all(_inside(resolved(p, cwd), boundary.worktree) for p in request.paths()):
            return "allow", "built-in: inside the worktree", ""
        message = f"edit only inside your worktree {boundary.worktree}; create a task instead"
        return "deny", "built-in: edits stay in the worktree", message
    if request.tool in NETWORK_TOOLS:
        return _network(request)
    return None


def _network(request: Asked) -> tuple[Decision, str, str]:
    """WebFetch runs in Claude Code itself, outside the sandbox: the host list binds it here."""
    if network_is_open(request.network):
        return "allow", "built-in: the network is open", ""
    host = urlsplit(str(request.input.get("url", ""))).hostname or ""
    if request.tool == "WebFetch" and host and host_allowed(host, request.network):
        return "allow", "built-in: a listed host", ""
    listed = ", ".join(request.network)
    message = f"the network is limited to {listed}; {host or 'this'} is not on the list"
    return "deny", "built-in: a limited network", message


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def _hard_limit(request: Asked, boundary: Boundary) -> str | None:
    """A refusal no policy can lift: Hephaestus' own files are out of every agent's reach."""
    cwd = request.cwd or str(boundary.worktree)
    for raw in request.paths():
        path = resolved(raw, cwd)
        if _inside(path, boundary.worktree) or _inside(path, boundary.brief_dir):
            continue
        if any(_inside(path, root) or _inside(root, path) for root in boundary.protected):
            return (
                f"{raw} belongs to Hephaestus or to the user's credentials (tokens, its"
                " database, other agents' folders and worktrees, keys): no agent may read or"
                " change it. Work inside your worktree; ask for what you need with create_task"
                " or find_memories."
            )
    return None


def resolved(path: str, cwd: str) -> Path:
    """The real file a path names: a link inside the worktree may point anywhere."""
    joined = os.path.join(cwd, os.path.expanduser(path))
    return Path(os.path.realpath(joined))


def _inside(path: Path, root: Path) -> bool:
    real = Path(os.path.realpath(root))
    return path == real or real in path.parents
