"""Tokens an agent used, read from Claude Code's session transcripts, for the server's cost.

Claude Code appends each assistant message to the session's transcript
(`<config dir>/projects/<cwd with every non-alphanumeric as ->/*.jsonl`), one
line per content block, every line carrying the message's `usage`. Lines of one
message share its `message.id`, so usage is kept per message id (the latest
line wins) and reported keyed by it: the server replaces a message reported
again, so a report can always be repeated. The Guardian reports as agents work;
the launcher reports once more when a session ends, so its last messages count.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heph_mcp.client import HephCallError, HephClient

log = logging.getLogger("heph.launcher")

FIELDS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_input_tokens": "cache_read_tokens",
    "cache_creation_input_tokens": "cache_write_tokens",
}
BATCH = 1000  # entries per record_usage call
SYNTHETIC = "<synthetic>"  # Claude Code's own notices (API errors) carry no real usage


def transcript_dir(worktree: str | Path) -> Path:
    config = os.environ.get("CLAUDE_CONFIG_DIR")
    root = Path(config) if config else Path.home() / ".claude"
    return root / "projects" / re.sub(r"[^A-Za-z0-9]", "-", str(worktree))


def message_usage(raw: bytes | str) -> dict[str, Any] | None:
    """One transcript line as a usage entry (key, model, tokens), or None if it has none."""
    try:
        entry = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if not isinstance(entry, dict) or entry.get("type") != "assistant":
        return None
    message = entry.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    usage = message["usage"]
    model = str(message.get("model") or "unknown")
    key = message.get("id") or entry.get("requestId") or entry.get("uuid")
    if model == SYNTHETIC or not key:
        return None
    tokens = {ours: int(usage.get(theirs) or 0) for theirs, ours in FIELDS.items()}
    return {"key": str(key)[:128], "model": model[:128], **tokens}


@dataclass
class UsageReader:
    """Per worktree: how far each transcript file was read, and what was already reported."""

    offsets: dict[Path, int] = field(default_factory=dict)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    reported: dict[str, dict[str, Any]] = field(default_factory=dict)

    def changed(self, worktree: str | Path) -> list[dict[str, Any]]:
        """Entries that are new or changed since the last call; `mark` them once reported."""
        folder = transcript_dir(worktree)
        files = sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []
        for path in files:
            self._read(path)
        return [e for k, e in self.latest.items() if self.reported.get(k) != e]

    def mark(self, entries: list[dict[str, Any]]) -> None:
        self.reported.update({e["key"]: e for e in entries})

    def _read(self, path: Path) -> None:
        with path.open("rb") as handle:
            handle.seek(self.offsets.get(path, 0))
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]  # a half-written last line waits
        self.offsets[path] = self.offsets.get(path, 0) + len(complete)
        for raw in complete.splitlines():
            found = message_usage(raw)
            if found is not None:
                self.latest[found["key"]] = _larger(self.latest.get(found["key"]), found)


def _larger(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Lines of one message may be written as it streams: keep each count's largest."""
    if old is None:
        return new
    return {**new, **{k: max(old[k], new[k]) for k in FIELDS.values()}}


async def report_usage(
    client: HephClient, reader: UsageReader, agent_id: str, worktree: str | Path
) -> int:
    """Send what changed in an agent's transcripts since the last report; how many entries."""
    entries = await asyncio.to_thread(reader.changed, worktree)
    for start in range(0, len(entries), BATCH):
        batch = entries[start : start + BATCH]
        await client.call("record_usage", agent_id=agent_id, entries=batch)
        reader.mark(batch)
    return len(entries)


async def final_usage(client: HephClient, agent_id: str, worktree: str | Path) -> None:
    """The whole transcript once more as a session ends (repeats replace, never add); a
    failure is logged, never raised: an agent's end must not wait on its bill."""
    try:
        await report_usage(client, UsageReader(), agent_id, worktree)
    except (HephCallError, OSError) as exc:
        log.warning("usage of agent %s not reported: %s", agent_id, exc)


def totals(entries: list[dict[str, Any]]) -> dict[str, int]:
    """The sum of each token kind over entries (tests and status lines)."""
    return {ours: sum(e[ours] for e in entries) for ours in FIELDS.values()}
