"""Claude Code's session transcript for an agent: the new entries since the last look.

Claude Code appends every message and tool call of a session to
`<config dir>/projects/<cwd with / and . as ->/<session id>.jsonl`. The pane
shows what fits on screen; the transcript shows what the model actually did
(tool calls with their inputs), so the Guardian reads its new lines too,
compacted to one short line per entry, from a per-agent byte offset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.usage import transcript_dir

__all__ = ["TranscriptCursor", "compact", "transcript_dir"]

MAX_LINE = 300


@dataclass
class TranscriptCursor:
    path: Path | None = None
    offset: int = 0

    def read_new(self, worktree: str) -> list[str]:
        """Compact lines for the entries appended since the last call (none if no transcript)."""
        newest = _newest(transcript_dir(worktree))
        if newest is None:
            return []
        if newest != self.path:
            self.path, self.offset = newest, 0
        with newest.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]  # a half-written last line waits
        self.offset += len(complete)
        return [line for raw in complete.splitlines() if (line := compact(raw))]


def _newest(folder: Path) -> Path | None:
    files = list(folder.glob("*.jsonl")) if folder.is_dir() else []
    return max(files, key=lambda p: p.stat().st_mtime) if files else None


def compact(raw: bytes) -> str:
    try:
        entry: dict[str, Any] = json.loads(raw)
    except json.JSONDecodeError:
        return ""
    message = entry.get("message") or {}
    parts = []
    content = message.get("content")
    for block in content if isinstance(content, list) else [{"type": "text", "text": content}]:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and block.get("text"):
            parts.append(str(block["text"]))
        elif block.get("type") == "tool_use":
            parts.append(f"{block.get('name')}({json.dumps(block.get('input'))[:150]})")
        elif block.get("type") == "tool_result":
            parts.append("result: " + str(block.get("content"))[:150])
    text = " ".join(" ".join(parts).split())
    return f"[{entry.get('type', '?')}] {text}"[:MAX_LINE] if text else ""
