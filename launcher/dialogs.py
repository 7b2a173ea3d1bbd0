"""Dialogs that hold an agent CLI, recognised from the bottom of its pane.

An agent CLI that asks something (a permission, a trust or login screen, a
choice) or that waits on its model's API (a rate limit, an error, its own
retries) does nothing until someone answers, and no steering reaches the
model meanwhile. The Guardian records such an agent as `blocked_on_dialog`
(and never types into it); the launcher's start timeout names the dialog
that held the agent.

This lives in `launcher/` because both read agent panes: the launcher starts
and ends them, and the Guardian already imports `launcher.tmux` to look at
them. The launcher never imports the Guardian, so the dependency stays one way.

A dialog is recognised by its structure, never by words alone, so an agent's
own prose ("Do you want to proceed with the refactor?") or a command's output
never counts. Three structures, each at the very bottom of the pane:

- a selection menu: a cursor on an option, with numbered siblings or a footer
  such as "Enter to confirm" below it, and nothing below it but the menu;
- Claude Code's own message (an API error, "Please run /login") among the last
  lines above its input box, while that box waits for the message to be resent;
  or its retry spinner ("retrying in 5s · attempt 5/10") in the same place;
- another CLI's "(y/n)", "[Y/n]" or "Press Enter to continue" as the last line,
  at its margin (a command's output is indented under its call).

The kinds and their wording are data (the tables below), checked against real
Claude Code 2.1.331 panes in tests/data/panes/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["approval", "question", "trust", "login", "rate_limit", "api_error"]
MAX_TEXT = 240
MENU_REACH = 14  # the option under the cursor is at most this many lines from the bottom
DIALOG_REACH = 25  # a dialog's title is at most this many lines above its options
BARE_REACH = 6  # ... or this many, for a CLI that draws no rule above its dialogs
MESSAGE_REACH = 4  # Claude Code's message is one of the last lines above its input box
STATUS_REACH = 4  # status lines under Claude Code's input box

# Claude Code draws full-width rules around its input box and atop a dialog, and
# dashed ones around the command or host a permission dialog is about.
RULE = re.compile(r"^\s*[─━]{8,}\s*$")
DASHED = re.compile(r"^\s*╌{8,}\s*$")
CURSOR = re.compile(r"^\s*[❯›▶➤>]\s*(?P<option>\S.*)$")
NUMBERED = re.compile(r"^\s*(?:[❯›▶➤>]\s*)?(?P<option>\d+[.)]\s+\S.*)$")
FOOTER = re.compile(
    r"Enter to (confirm|select|continue)|Esc to cancel|esc to (cancel|reject)"
    r"|↑/↓ to navigate|Press enter to confirm",
    re.IGNORECASE,
)
PROMPT = re.compile(r"^\s*[│|]?\s*[>❯]\s*(?P<text>.*?)\s*[│|]?\s*$")
# What Claude Code shows in its empty input box after a failed request.
RESEND = re.compile(r"[Rr]esend your message")
# Claude Code's own lines start with its marker: ● (⏺ before 2.1) for a message, ⎿ for a result.
MESSAGE = re.compile(r"^\s*[●⏺⎿]\s+(?P<text>.+)$")
RETRYING = re.compile(r"[Rr]etrying in \d+\s*(?:s|sec|seconds)\b.*attempt \d+\s*/\s*\d+")
# Its retry line: the spinner glyph at the margin (or, in older versions, under ⎿ after
# "API Error"); a command's output saying "retrying" is indented and never counts.
RETRY_LINE = re.compile(r"^(?:[^\s\w⎿]\s*|\s*⎿\s+(?=API Error))(?P<text>.+)$")
BUSY = "esc to interrupt"

QUESTION_HEADER = re.compile(r"^\s*[☐☒✔]\s+\S")  # the header tab of Claude's AskUserQuestion
# A menu's kind, from the text above its options (first match wins; the match is the
# dialog's headline). Permission dialogs come first: their fixed wording is the most
# specific, and the model's own words in them (a command's description) must not make
# one look like another kind. Lines in a dashed box (the command, the host) never decide.
MENU_KINDS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("question", QUESTION_HEADER),
    ("approval", re.compile(
        r"This command requires approval|This command can't be checked before it runs"
        r"|Network request outside of sandbox|Do you want to allow this connection\?"
        r"|Do you want to (?:proceed|make this edit to|create|allow|run)\b[^?]*\?"
        r"|Would you like to run the following command\?|Allow (?:execution|command)\b[^?]*\?"
        r"|Permission required|requires? (?:your )?(?:approval|permission)")),
    ("trust", re.compile(
        r"Is this a project you created or one you trust\?|Do you trust the files in this folder\?"
        r"|Yes, I trust this folder")),
    ("login", re.compile(
        r"Detected a custom API key in your environment|Do you want to use this API key\?"
        r"|Select login method|Sign in with ChatGPT|How would you like to authenticate")),
    ("rate_limit", re.compile(r"usage limit|rate limit|limit reached|hit your limit", re.I)),
)  # fmt: skip
# Claude Code's messages and retry lines, by what they say (first match wins).
MESSAGE_KINDS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("login", re.compile(
        r"Please run /login|Not logged in|Invalid API key|OAuth token (?:has )?expired"
        r"|API Error:? \(?40[13]\b|^40[13]\b")),
    ("rate_limit", re.compile(
        r"\b(?:429|529)\b|[Oo]verloaded|rate.?limit|usage limit|limit reached|hit your limit",
        re.I)),
    ("api_error", re.compile(r"API Error|^\d{3}\b")),
)  # fmt: skip
# Another CLI's question on the last line of its pane.
LAST_LINE = re.compile(
    r"[\[(](?:y/n|yes/no)[\])]\s*[:?]?\s*$|^\s*Press (?:Enter|Return|any key) to continue"
    r"|\?\s*[\[(]?(?:Yes|Allow)\s*/\s*(?:No|Deny|Reject)[\])]?\s*$",
    re.IGNORECASE,
)
OUTPUT_INDENT = re.compile(r"^(?:\s{3,}|\s*⎿)")
ASKS_PERMISSION = re.compile(
    r"\b(?:allow|approve|permission|proceed|run|execute|command|overwrite|delete)\b", re.I
)
NOUN = {
    "approval": "approval dialog",
    "question": "question",
    "trust": "trust dialog",
    "login": "login prompt",
    "rate_limit": "rate limit",
    "api_error": "API error",
}


@dataclass(frozen=True)
class Dialog:
    """What holds the agent: its kind, the dialog's own words, and whose dialog it is."""

    kind: Kind
    text: str
    cli: str = ""  # "Claude Code" when the structure is Claude Code's own

    def label(self) -> str:
        """One line for status and the board."""
        return f"blocked on dialog ({self.kind}): {self.text}"

    def held_by(self) -> str:
        """For a start-timeout reason: `Claude Code's trust dialog ("...")`."""
        owner = f"{self.cli}'s" if self.cli else "its CLI's"
        return f'{owner} {NOUN[self.kind]} ("{self.text}")'


def find_dialog(tail_lines: Sequence[str]) -> Dialog | None:
    """The dialog at the bottom of a pane (its last lines, oldest first), or None."""
    lines = [line.rstrip() for line in tail_lines if line.strip()]
    if not lines:
        return None
    return _menu_dialog(lines) or _claude_message(lines) or _last_line(lines)


def compact(parts: Sequence[str]) -> str:
    """Parts joined by " · ", each once, whitespace collapsed, at most MAX_TEXT characters."""
    seen: list[str] = []
    for part in parts:
        text = " ".join(part.split()).strip("│ ")
        if text and text not in seen:
            seen.append(text)
    joined = " · ".join(seen)
    return joined if len(joined) <= MAX_TEXT else joined[: MAX_TEXT - 1] + "…"


def _menu_dialog(lines: list[str]) -> Dialog | None:
    at = _menu_cursor(lines)
    if at is None:
        return None
    body, boxed = _dialog_body(lines, at)
    cli = "Claude Code" if lines[at].lstrip().startswith("❯") else ""
    kind, headline = _menu_kind(body)
    if kind != "question":
        return Dialog(kind, compact([headline, *boxed]), cli)
    asked = [line for line in body if not QUESTION_HEADER.search(line)][-1:]
    options = [m.group("option") for line in lines[at:] if (m := NUMBERED.match(line))]
    return Dialog("question", compact([*asked, *options]), cli)


def _menu_kind(body: list[str]) -> tuple[Kind, str]:
    """The first kind whose pattern a line of the dialog matches, with the matched words."""
    for kind, pattern in MENU_KINDS:
        for line in body:
            if found := pattern.search(line):
                return kind, found.group(0)
    return "question", ""  # a menu that is none of the known dialogs asks the user to choose


def _menu_cursor(lines: list[str]) -> int | None:
    """The line of a menu's cursor when a menu is the last thing in the pane."""
    for at in range(len(lines) - 1, max(len(lines) - MENU_REACH, 0) - 1, -1):
        if _is_input_line(lines, at):
            return None  # the CLI's own input box is below anything that looked like a menu
        if CURSOR.match(lines[at]) is None:
            continue
        below = lines[at + 1 :]
        if not _only_menu(below):
            return None
        siblings = lines[max(at - BARE_REACH, 0) : at] + below
        numbered = NUMBERED.match(lines[at]) and any(NUMBERED.match(line) for line in siblings)
        footer = any(FOOTER.search(line) for line in below[-2:])
        return at if numbered or footer else None
    return None


def _only_menu(below: list[str]) -> bool:
    """Nothing but the rest of a menu under its cursor: more options (indented or numbered),
    their descriptions, rules, and a footer or an option last. Output or a prompt below it
    means the menu was answered and the CLI went on."""
    if any(BUSY in line for line in below):
        return False
    menu_like = all(
        line[:1].isspace() or NUMBERED.match(line) or RULE.match(line) or FOOTER.search(line)
        for line in below
    )
    last = below[-1] if below else ""
    return menu_like and (not below or bool(NUMBERED.match(last) or FOOTER.search(last)))


def _is_input_line(lines: list[str], at: int) -> bool:
    """A prompt between two full rules: Claude Code's input box."""
    if not 0 < at < len(lines) - 1 or PROMPT.match(lines[at]) is None:
        return False
    return bool(RULE.match(lines[at - 1]) and RULE.match(lines[at + 1]))


def _dialog_body(lines: list[str], at: int) -> tuple[list[str], list[str]]:
    """The dialog's lines above its options (up to the rule atop it), and those in a dashed box."""
    top = _last_index(at, DIALOG_REACH, lambda i: bool(RULE.match(lines[i])))
    above = lines[top + 1 : at] if top is not None else lines[max(at - BARE_REACH, 0) : at]
    body: list[str] = []
    boxed: list[str] = []
    inside = False
    for line in above:
        if DASHED.match(line):
            inside = not inside
        elif CURSOR.match(line) is None and NUMBERED.match(line) is None:
            (boxed if inside else body).append(line)
    return body, boxed


def _claude_message(lines: list[str]) -> Dialog | None:
    """Claude Code's retry spinner, or its API error or login message, above its input box."""
    box = _input_line(lines)
    if box is None:
        return None
    recent = lines[max(box - 1 - MESSAGE_REACH, 0) : box - 1]
    for line in reversed(recent):
        retry = RETRY_LINE.match(line)
        if retry and RETRYING.search(line):
            return _message_dialog(retry.group("text"))
    prompt = PROMPT.match(lines[box])
    if prompt is None or not RESEND.search(prompt.group("text")):
        return None  # the request did not fail: any "API Error" above is someone's output
    for line in reversed(recent):
        message = MESSAGE.match(line)
        if message and (found := _message_dialog(message.group("text"))):
            return found
    return None


def _input_line(lines: list[str]) -> int | None:
    """Claude Code's input line (a prompt between two rules) above its status lines."""
    return _last_index(len(lines), STATUS_REACH + 2, lambda i: _is_input_line(lines, i))


def _message_dialog(text: str) -> Dialog | None:
    for kind, pattern in MESSAGE_KINDS:
        if pattern.search(text):
            return Dialog(kind, compact([text]), "Claude Code")
    return None


def _last_line(lines: list[str]) -> Dialog | None:
    """Another CLI's y/n question or "Press Enter to continue" as the pane's last line.

    At the margin only: a CLI asks at its own margin, while a command's output (which
    asks nobody: the command has no terminal to read from) is indented under its call.
    """
    last = lines[-1]
    if not LAST_LINE.search(last) or OUTPUT_INDENT.match(last):
        return None
    asks = ASKS_PERMISSION.search(" ".join(lines[-3:]))
    return Dialog("approval" if asks else "question", compact([last]))


def _last_index(before: int, reach: int, test: Callable[[int], bool]) -> int | None:
    """The nearest index above `before`, at most `reach` up, that passes `test`."""
    for i in range(before - 1, max(before - reach, 0) - 1, -1):
        if test(i):
            return i
    return None
