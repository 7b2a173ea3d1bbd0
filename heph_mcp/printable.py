"""Agent text made safe to print: the one function everything that prints it goes through.

Task titles, summaries and pane lines are written by agents. Printed raw, an
escape sequence sets the window title, writes the clipboard (OSC 52) or clears
the screen. Every control character but newline and tab becomes its visible
escape (`\\x1b`), so the text still reads as what was sent.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# Unicode category Cc (C0, DEL, C1) minus newline and tab.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


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
