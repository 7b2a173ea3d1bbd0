"""Terminal output made safe to show: escape sequences and control characters removed.

Agent panes hold whatever the agent's CLI and the programs it ran printed: colours,
cursor moves, window titles (OSC), and anything a hostile file could smuggle into a
`cat`. The board renders text through textContent and the terminal view through
rich with markup off, but a raw escape sequence would still reach a user's terminal
(`heph status --agent`) or garble the page. This is the one place pane tails are
cleaned; the launcher strips before it sends (fewer bytes) and the server strips
again on receipt (it trusts no caller's text).
"""

from __future__ import annotations

import re

# OSC (ESC ] ... BEL or ST), DCS / SOS / PM / APC strings (ESC P|X|^|_ ... ST), CSI
# (ESC [ params intermediates final, or its 8-bit form 0x9b), then any other two-byte ESC.
_SEQUENCES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[ -/]*[0-~]?"
)
# C0 controls but tab and newline, DEL, C1 controls; bidi overrides that reorder text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_terminal(text: str) -> str:
    """`text` without escape sequences or control characters; CRLF becomes LF."""
    text = text.replace("\r\n", "\n")
    return _CONTROLS.sub("", _SEQUENCES.sub("", text))


def tail_lines(text: str, lines: int, chars: int) -> str:
    """The last `lines` lines of `text`, at most `chars` characters (the end kept)."""
    kept = "\n".join(text.splitlines()[-lines:])
    return kept[-chars:]
