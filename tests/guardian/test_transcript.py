"""Reading Claude Code's session transcript: only new, complete entries, compacted."""

from __future__ import annotations

import json

from guardian.transcript import TranscriptCursor, transcript_dir


def entry(kind: str, content) -> str:
    return json.dumps({"type": kind, "message": {"role": kind, "content": content}}) + "\n"


def test_new_transcript_entries_are_read_once_and_a_half_written_line_waits(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))
    worktree = "/repo/.hephaestus/worktrees/r1-t1"
    folder = transcript_dir(worktree)
    folder.mkdir(parents=True)
    assert folder.name == "-repo--hephaestus-worktrees-r1-t1"
    log = folder / "session-1.jsonl"
    log.write_text(
        entry("user", "Read your brief")
        + entry("assistant", [{"type": "tool_use", "name": "Edit", "input": {"file": "src/a.py"}}])
    )
    cursor = TranscriptCursor()

    first = cursor.read_new(worktree)
    with log.open("a") as handle:
        handle.write(entry("assistant", [{"type": "text", "text": "Fixed   the\nparser."}]))
        handle.write('{"type": "assistant", "mess')  # still being written
    second = cursor.read_new(worktree)

    assert first == ["[user] Read your brief", '[assistant] Edit({"file": "src/a.py"})']
    assert second == ["[assistant] Fixed the parser."]
    assert cursor.read_new(worktree) == []


def test_an_agent_without_a_transcript_yields_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))
    assert TranscriptCursor().read_new("/nowhere") == []
