"""One function makes agent text safe for a terminal; the log of `heph up` uses it too."""

from __future__ import annotations

import io
import logging

from rich.console import Console
from rich.logging import RichHandler

from heph_mcp.printable import PrintableLog, printable, strip_terminal


def test_control_characters_become_visible_escapes_and_newlines_and_tabs_stay():
    assert printable("a\x1b[2Jb\x00c\x9bd\re") == "a\\x1b[2Jb\\x00c\\x9bd\\re"
    assert printable("one\n\ttwo #S [b]x[/b]") == "one\n\ttwo #S [b]x[/b]"


def test_the_log_shows_a_task_title_with_escapes_as_visible_text():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=200)
    handler = RichHandler(console=console, show_path=False)
    handler.addFilter(PrintableLog())
    log = logging.getLogger("heph-test-printable")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("started %s (%s)", "heph-r-t", "title\x1b]52;c;eA==\x07\x1b[2J")
    finally:
        log.removeHandler(handler)
    shown = out.getvalue()
    assert "\x1b]52" not in shown and "\x1b[2J" not in shown and "\x07" not in shown
    assert "title\\x1b]52;c;eA==\\x07" in shown


def test_a_bidi_override_is_shown_not_obeyed():
    assert printable("x.py\u202eyp.exe") == "x.py\\u202eyp.exe"


def test_a_captured_screen_loses_its_sequences_whole_and_keeps_its_words():
    screen = "\x1b[1;32mok\x1b[0m\r\n\x1b]0;title\x07done\x1b[2K \x9b31mred\x00\u202e!"
    assert strip_terminal(screen) == "ok\ndone red!"
