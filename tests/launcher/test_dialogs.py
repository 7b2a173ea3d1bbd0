"""find_dialog on real Claude Code 2.1.331 panes (tests/data/panes/) and on look-alikes.

The panes were captured with `tmux capture-pane` (200 columns) from the real
`claude` against a scripted model; only their folder paths were made neutral.
The healthy_* panes are built on the same layout, with dialog words in an
agent's prose and in a command's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.dialogs import MAX_TEXT, Dialog, compact, find_dialog

PANES = Path(__file__).parents[1] / "data" / "panes"
RULE = "─" * 200
IDLE_BOX = [RULE, "❯\xa0", RULE, "  ⏵⏵ accept edits on (shift+tab to cycle)"]


def pane(name: str) -> list[str]:
    return (PANES / f"{name}.txt").read_text().splitlines()


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("approval_bash", "approval", "This command requires approval · python3 -c 'print(6*7)'"),
        ("approval_unchecked", "approval", "This command can't be checked before it runs · (python3"
         " -m http.server 18999 --bind 127.0.0.1 >/dev/null 2>&1 &) ; sleep 1; echo started"),
        ("network_request", "approval", "Network request outside of sandbox · Host: example.com"),
        ("ask_user_question", "question", "Which database should I use? · 1. SQLite · "
         "2. Postgres · 3. Type something. · 4. Chat about this"),
        ("trust", "trust", "Is this a project you created or one you trust?"),
        ("api_key_prompt", "login", "Detected a custom API key in your environment"),
        ("not_logged_in", "login", "Not logged in · Please run /login"),
        ("api_401_final", "login", "Please run /login · API Error: 401 scripted 401"),
        ("api_429_retrying", "rate_limit", "429 scripted 429 · retrying in 5s · attempt 5/10"),
        ("api_429_final", "rate_limit", "API Error: Request rejected (429) · scripted 429"),
        ("api_500_retrying", "api_error", "500 scripted 500 · retrying in 4s · attempt 5/10"),
        ("api_500_final", "api_error", "API Error: 500 scripted 500. This is a server-side issue, "
         "usually temporary — try again in a moment. If it persists, check your inference "
         "gateway (127.0.0.1:39971)."),
    ],
)  # fmt: skip
def test_every_claude_code_dialog_is_recognised_with_its_kind_and_words(name, kind, text):
    assert find_dialog(pane(name)) == Dialog(kind, text, "Claude Code")


@pytest.mark.parametrize(
    "name",
    ["approval_write", "healthy_chat_question", "healthy_numbered_plan", "healthy_tool_output"],
)
def test_a_working_or_idle_agent_with_dialog_words_on_screen_shows_no_dialog(name):
    assert find_dialog(pane(name)) is None


def test_only_the_last_lines_count_when_a_longer_history_is_above():
    history = [f"● Read(src/mod{n}.py)" for n in range(150)]
    assert find_dialog(history + pane("trust")) == find_dialog(pane("trust"))
    assert find_dialog(pane("trust") + history) is None


def test_an_answered_dialog_that_scrolled_up_no_longer_counts():
    answered = pane("approval_bash") + ["● Bash(python3 -c 'print(6*7)')", "  ⎿  42", *IDLE_BOX]
    assert find_dialog(answered) is None


def test_an_api_error_counts_only_while_claude_code_asks_for_the_message_again():
    failed = pane("api_500_final")
    assert find_dialog(failed) is not None
    moved_on = [line.replace("Resend your message to try again", "") for line in failed]
    assert find_dialog(moved_on) is None


def test_a_commands_own_retry_line_is_not_claude_code_retrying():
    retrying = pane("api_429_retrying")
    indented = ["     " + line if "retrying in" in line else line for line in retrying]
    assert find_dialog(retrying) is not None and find_dialog(indented) is None


def test_a_menu_still_drawn_while_the_agent_works_is_not_a_dialog():
    busy = pane("approval_bash") + ["✻ Running… (esc to interrupt)"]
    assert find_dialog(busy) is None


@pytest.mark.parametrize(
    ("lines", "kind", "text"),
    [
        # codex-style: a "›" cursor on numbered options and a footer, no rule above.
        (["Would you like to run the following command?", "  $ python3 -c 'print(1)'",
          "› 1. Yes, proceed (y)", "  2. Yes, and don't ask again for this command (a)",
          "  3. No, and tell Codex what to do differently (esc)",
          "  Press enter to confirm or esc to cancel"],
         "approval", "Would you like to run the following command?"),
        (["Pick a model for this session", "> 1. fast", "  2. thorough"],
         "question", "Pick a model for this session · 1. fast · 2. thorough"),
        (["Downloading 3 packages", "Overwrite config.yaml? [y/N]"],
         "approval", "Overwrite config.yaml? [y/N]"),
        (["Continue with the default profile? (y/n)"],
         "question", "Continue with the default profile? (y/n)"),
        (["Setup finished.", "Press Enter to continue"], "question", "Press Enter to continue"),
        (["Allow network access for this tool? Yes/No"],
         "approval", "Allow network access for this tool? Yes/No"),
    ],
)  # fmt: skip
def test_other_clis_prompts_are_recognised_at_the_bottom_of_their_pane(lines, kind, text):
    assert find_dialog(lines) == Dialog(kind, text)


@pytest.mark.parametrize(
    "lines",
    [
        ["Overwrite config.yaml? [y/N]", "y", "wrote config.yaml"],  # answered, output went on
        ["Plan: 1. parse 2. check", "The old tool asked (y/n) questions; this one does not."],
        ["> 1. a numbered line typed at a prompt"],  # a cursor, but no sibling and no footer
        [],
    ],
)
def test_other_clis_ordinary_output_is_not_a_dialog(lines):
    assert find_dialog(lines) is None


def test_the_text_is_compact_and_bounded():
    assert compact(["  a   b ", "a b", "│ c │"]) == "a b · c"
    long = compact(["x" * 1000])
    assert len(long) == MAX_TEXT and long.endswith("…")


def test_a_dialog_names_itself_for_status_and_for_the_start_timeout():
    trust = find_dialog(pane("trust"))
    assert trust is not None
    assert trust.label() == (
        "blocked on dialog (trust): Is this a project you created or one you trust?"
    )
    assert trust.held_by() == (
        'Claude Code\'s trust dialog ("Is this a project you created or one you trust?")'
    )
    assert Dialog("question", "Continue? (y/n)").held_by() == (
        'its CLI\'s question ("Continue? (y/n)")'
    )


def test_the_models_words_inside_a_permission_dialog_do_not_change_its_kind():
    lines = [
        line.replace(
            "Compute a product", "Check the rate limit before we trust this folder"
        ).replace("print(6*7)", "print('Please run /login')")
        for line in pane("approval_bash")
    ]
    dialog = find_dialog(lines)
    assert dialog is not None and dialog.kind == "approval"


@pytest.mark.parametrize(
    "after",
    [[">"], ["[agent] approved by hand", ">"], ["● Bash(python3 -c 'print(6*7)')", "  ⎿  42"]],
)
def test_a_menu_with_output_or_a_prompt_below_it_was_answered(after):
    assert find_dialog(pane("approval_bash") + after) is None


def test_a_commands_own_question_indented_under_its_call_is_not_the_clis():
    assert find_dialog(["● Bash(./setup.sh)", "     Overwrite config.yaml? [y/N]"]) is None
    assert find_dialog(["● Bash(./setup.sh)", "  ⎿  Overwrite config.yaml? [y/N]"]) is None
