"""The Guardian and launcher pieces that depend on Claude Code, against the real `claude` binary.

The binary (pinned in tests/node/package.json) talks to a scripted Messages API
on loopback (tests/modelkit.py): the test double for the LLM only.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelkit import ScriptedModel, last_user_text, model_server, text, tool_use

from claude_config.trust import trust_folders
from guardian.llm_judges import ClaudeHeadlessJudge
from guardian.observe import Observation, at_prompt
from guardian.transcript import TranscriptCursor
from launcher.dialogs import Dialog, find_dialog
from launcher.tmux import Tmux

CLAUDE = Path(__file__).parents[1] / "node" / "node_modules" / ".bin" / "claude"
VERDICT = (
    '{"state": "drifting", "alignment": 0.2, "summary": "edits src/app.py while analysing",'
    ' "steering": "Analysis only: revert src/app.py and create an implementation task."}'
)


@pytest.fixture
def model(tmp_path, monkeypatch) -> Iterator[ScriptedModel]:
    scripted = ScriptedModel(lambda body: [text(VERDICT)])
    with model_server(scripted) as served:
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", served.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
        monkeypatch.setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        monkeypatch.setenv("DISABLE_AUTOUPDATER", "1")
        (tmp_path / "home").mkdir()
        yield served


async def test_the_claude_headless_judge_asks_the_real_binary_and_reads_its_json(model):
    observation = Observation(
        agent_id="a1", task_id="t1", run_id="r1", phase="analysis", task_title="Find the crash",
        session="s", worktree="/wt", new_lines=["⏺ Update(src/app.py)"], tail=[],
        unchanged_cycles=0, at_prompt=False, busy=True,
    )  # fmt: skip

    verdict = await ClaudeHeadlessJudge(binary=str(CLAUDE)).judge(observation)

    assert verdict.state == "drifting" and verdict.alignment == 0.2
    assert verdict.steering and "implementation task" in verdict.steering
    assert (verdict.tokens_in, verdict.tokens_out) == (100, 20)  # the model server's usage
    asked = last_user_text(model.requests[-1])
    assert "⏺ Update(src/app.py)" in asked and "Phase: analysis" in asked
    assert "gitStatus" not in asked  # the judge runs outside any repository


def test_the_transcript_reader_finds_what_claude_code_writes_for_a_folder(model, tmp_path):
    worktree = tmp_path / "wt.run_1-task"
    worktree.mkdir()
    done = subprocess.run(
        [str(CLAUDE), "-p", "say hi", "--output-format", "json"],
        cwd=worktree, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = TranscriptCursor().read_new(str(worktree))
    assert "[user] say hi" in lines
    assert any(line.startswith("[assistant]") and "drifting" in line for line in lines)


def test_real_claude_code_starts_unblocked_in_a_trusted_worktree_and_its_idle_prompt_is_seen(
    model, tmp_path
):
    home = tmp_path / "home"
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    trust_folders([worktree])  # what the launcher does, API-key dialog included
    tmux = Tmux(f"heph-claude-{uuid.uuid4().hex[:8]}")
    env = {k: os.environ[k] for k in ("HOME", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY")}
    env |= {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
    try:
        tmux.start("claude-1", worktree, [str(CLAUDE), "say hi"], env)
        deadline = time.monotonic() + 60
        while not (model.requests and at_prompt(tmux.capture("claude-1", 60).splitlines())):
            assert time.monotonic() < deadline, tmux.capture("claude-1", 60)
            time.sleep(0.2)
        pane = tmux.capture("claude-1", 60)
    finally:
        subprocess.run(["tmux", "-L", tmux.socket_name or "", "kill-server"], check=False)
    assert "drifting" in pane  # the scripted model's answer is on screen
    assert "Do you want to use this API key?" not in pane and "trust" not in pane.lower()
    assert find_dialog(pane.splitlines()) is None  # an idle agent is not held by anything


def wait_for_dialog(tmux: Tmux, name: str) -> Dialog:
    deadline = time.monotonic() + 60
    while (dialog := find_dialog(tmux.capture(name, 60).splitlines())) is None:
        assert time.monotonic() < deadline, tmux.capture(name, 60)
        time.sleep(0.2)
    return dialog


def test_the_trust_and_approval_dialogs_of_real_claude_code_are_recognised(model, tmp_path):
    home = tmp_path / "home"
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
    untrusted, trusted = tmp_path / "untrusted", tmp_path / "trusted"
    for folder in (untrusted, trusted):
        folder.mkdir()
    trust_folders([trusted])
    bash = tool_use("Bash", {"command": "python3 -c 'print(6*7)'", "description": "Multiply"})
    model.script = lambda body: (
        [bash] if last_user_text(body).endswith("multiply") else [text("Done.")]
    )
    tmux = Tmux(f"heph-claude-{uuid.uuid4().hex[:8]}")
    env = {k: os.environ[k] for k in ("HOME", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY")}
    env |= {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
    try:
        tmux.start("untrusted", untrusted, [str(CLAUDE), "multiply"], env)
        trust = wait_for_dialog(tmux, "untrusted")
        # As the launcher's agents do, in acceptEdits mode, where a Bash command outside the
        # allow list asks (this binary's own default is auto mode, where a model judges it).
        argv = [str(CLAUDE), "--permission-mode", "acceptEdits", "multiply"]
        tmux.start("trusted", trusted, argv, env)
        approval = wait_for_dialog(tmux, "trusted")
    finally:
        subprocess.run(["tmux", "-L", tmux.socket_name or "", "kill-server"], check=False)
    assert trust == Dialog(
        "trust", "Is this a project you created or one you trust?", "Claude Code"
    )
    assert approval == Dialog(
        "approval", "This command requires approval · python3 -c 'print(6*7)'", "Claude Code"
    )
