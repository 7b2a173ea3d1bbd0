"""Agent text made safe to print: the one module everything that prints it goes through.

Task titles, summaries and pane lines are written by agents. Printed raw, an
escape sequence sets the window title, writes the clipboard (OSC 52) or clears
the screen, and a bidi override reorders what the reader sees. Two ways out:

- `printable()` for text an agent wrote (titles, reasons, summaries): every
  control character but newline and tab becomes its visible escape (`\\x1b`),
  so the text still reads as what was sent;
- `strip_terminal()` for a captured screen (pane tails): its colours and cursor
  moves are the terminal's own, so whole sequences are dropped, not shown.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# Unicode category Cc (C0, DEL, C1) minus newline and tab; bidi overrides and isolates.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# OSC (ESC ] ... BEL or ST), DCS / SOS / PM / APC strings (ESC P|X|^|_ ... ST), CSI
# (ESC [ params intermediates final, or its 8-bit form 0x9b), then any other two-byte ESC.
SEQUENCE = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[ -/]*[0-~]?"
)


def printable(text: str) -> str:
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def strip_terminal(text: str) -> str:
    """`text` without escape sequences or control characters; CRLF becomes LF."""
    return CONTROL.sub("", SEQUENCE.sub("", text.replace("\r\n", "\n")))


def tail_lines(text: str, lines: int, chars: int) -> str:
    """The last `lines` lines of `text`, at most `chars` characters (the end kept)."""
    kept = "\n".join(text.splitlines()[-lines:])
    return kept[-chars:]


def printable_tree(value: Any) -> Any:
    """`value` with printable() applied to every string in it (lists and dicts walked)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {k: printable_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable_tree(v) for v in value]
    return value


class PrintableLog(logging.Filter):
    """Log records leave with their message made printable (titles and reasons in the log of
    `heph up`, `heph launcher`, `heph guardian`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if CONTROL.search(message):
            record.msg, record.args = printable(message), None
        return True
