"""What the Guardian sees of an agent each cycle: only what is new since the last look.

The pane is captured once per cycle (and, for Claude Code, the session
transcript could be read the same way); a per-agent cursor keeps the previous
capture, so a judge is shown only new lines, and an agent whose pane did not
change costs nothing beyond the capture.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from guardian.transcript import TranscriptCursor
from launcher.dialogs import Dialog, find_dialog

# An empty input line: Claude Code 2.x shows "❯" between two rules; others a bare ">".
PROMPT_LINE = re.compile(r"^\s*[│|]?\s*[>❯]\s*[│|]?\s*$")
BUSY_MARKERS = ("esc to interrupt", "Running…", "running...")
TAIL_LINES = 40
MAX_UNJUDGED = 400


@dataclass
class Cursor:
    """Per-agent memory between cycles."""

    lines: list[str] = field(default_factory=list)
    unchanged_cycles: int = 0
    summary: str = ""
    errors: dict[str, int] = field(default_factory=dict)
    # New lines no LLM has seen yet, and cycles since the LLM last looked.
    unjudged: list[str] = field(default_factory=list)
    since_llm: int = 0
    transcript: TranscriptCursor = field(default_factory=TranscriptCursor)
    task: dict[str, Any] = field(default_factory=dict)
    dialog: str = ""  # the dialog last recorded as holding the agent (see dialog_key)


@dataclass
class Observation:
    agent_id: str
    task_id: str
    run_id: str
    phase: str
    task_title: str
    session: str
    worktree: str
    new_lines: list[str]
    tail: list[str]
    unchanged_cycles: int
    at_prompt: bool
    busy: bool
    changed_files: list[str] = field(default_factory=list)
    previous_summary: str = ""
    repeated_errors: dict[str, int] = field(default_factory=dict)
    unjudged: list[str] = field(default_factory=list)
    cycles_since_llm: int = 0
    dialog: Dialog | None = None

    @property
    def changed(self) -> bool:
        return bool(self.new_lines)


def new_lines(previous: list[str], current: list[str]) -> list[str]:
    """Lines of `current` that were not in `previous` (scrolling and redraws tolerated)."""
    matcher = difflib.SequenceMatcher(a=previous, b=current, autojunk=False)
    added: list[str] = []
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("insert", "replace"):
            added += current[j1:j2]
    return [line for line in added if line.strip()]


def look(tail: list[str]) -> tuple[bool, Dialog | None]:
    """Whether the agent sits idle at its prompt, and the dialog holding it (never both).

    A dialog's option line can look like a prompt ("❯ 1. Yes"); an agent on a dialog
    is never at its prompt, so nothing is ever typed into a dialog.
    """
    dialog = find_dialog(tail)
    return dialog is None and at_prompt(tail), dialog


def dialog_key(dialog: Dialog | None) -> str:
    """The same dialog counts once: a retry countdown ("retrying in 5s · attempt 5/10") ticks."""
    return "" if dialog is None else re.sub(r"\d+", "N", f"{dialog.kind}: {dialog.text}")


def at_prompt(tail: list[str]) -> bool:
    visible = [line for line in tail if line.strip()]
    recent = visible[-6:]
    if any(marker in line for line in recent for marker in BUSY_MARKERS):
        return False
    return any(PROMPT_LINE.match(line) for line in recent)


ERROR_LINE = re.compile(r"(error|exception|traceback|failed|fatal)", re.IGNORECASE)


def error_signature(line: str) -> str:
    """An error line with numbers and paths blurred, so the same error repeats as one key."""
    line = re.sub(r"\d+", "N", line.strip())
    return re.sub(r"/[^\s:]+", "/PATH", line)[:200]


def advance(
    cursor: Cursor, capture: str, transcript: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """Move the cursor to this capture (plus new transcript lines); returns (new lines, tail)."""
    current = capture.splitlines()
    added = new_lines(cursor.lines, current) + list(transcript or [])
    cursor.lines = current
    cursor.unchanged_cycles = 0 if added else cursor.unchanged_cycles + 1
    cursor.unjudged = (cursor.unjudged + added)[-MAX_UNJUDGED:]
    cursor.since_llm += 1
    for line in added:
        if ERROR_LINE.search(line):
            key = error_signature(line)
            cursor.errors[key] = cursor.errors.get(key, 0) + 1
    return added, current[-TAIL_LINES:]
