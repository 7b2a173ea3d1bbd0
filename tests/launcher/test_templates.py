"""Agent CLI templates, the files handed to an agent, and the session verdicts."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from claude_config.templates import AgentLaunch, cli_template, render_argv
from claude_config.trust import ConfigLockTimeout, config_lock, forget_folders, trust_folders
from launcher import workspace
from launcher.sessions import AgentSession, judge
from launcher.tmux import PaneState


def launch(tmp_path: Path, **extra) -> AgentLaunch:
    return AgentLaunch(
        url="http://127.0.0.1:1/mcp",
        token="heph_agent_secret",
        agent_dir=tmp_path / "agent",
        worktree=tmp_path / "wt",
        task_id="t1",
        run_id="r1",
        **extra,
    )


def test_the_claude_template_points_at_files_and_never_carries_task_text(tmp_path):
    argv = render_argv(cli_template("claude", None), launch(tmp_path, model="opus"))
    assert argv[0] == "claude" and argv[-2:] == ["--model", "opus"]
    assert argv[argv.index("--") + 1].startswith("Your Hephaestus task brief")
    assert str(tmp_path / "agent" / "mcp.json") in argv
    assert "heph_agent_secret" not in " ".join(argv)
    assert str(tmp_path / "agent" / "brief.md") in argv[-3]


def test_a_custom_command_is_split_once_and_placeholders_stay_single_arguments(tmp_path):
    template = cli_template("custom", "my-agent --brief {brief} --say 'two words'")
    argv = render_argv(template, launch(tmp_path / "dir with space"))
    assert argv == [
        "my-agent",
        "--brief",
        str(tmp_path / "dir with space" / "agent" / "brief.md"),
        "--say",
        "two words",
    ]


def test_unknown_or_incomplete_cli_choices_say_what_is_allowed():
    with pytest.raises(ValueError, match="unknown agent CLI 'vim'.*claude"):
        cli_template("vim", None)
    with pytest.raises(ValueError, match="needs agent_command"):
        cli_template("custom", None)


def test_the_agent_files_are_private_and_carry_the_token_only_in_the_mcp_config(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))
    spec = launch(tmp_path, allowed_tools=["Bash(pytest:*)"], private_dir=tmp_path / "private")
    workspace.prepare(cli_template("claude", None), spec, "the brief")
    config = json.loads(spec.mcp_config.read_text())["mcpServers"]["hephaestus"]
    assert config["headers"] == {"Authorization": "Bearer heph_agent_secret"}
    assert spec.mcp_config.parent == tmp_path / "private" != spec.brief.parent
    assert os.listdir(spec.agent_dir) == ["brief.md"]  # the one file of ours it may read
    for path in (spec.mcp_config, spec.settings, spec.hook_config):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (spec.agent_dir, spec.private):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    allow = json.loads(spec.settings.read_text())["permissions"]["allow"]
    assert "mcp__hephaestus__*" in allow and "Bash(pytest:*)" in allow
    assert json.loads(spec.hook_config.read_text())["token"] == "heph_agent_secret"
    trusted = json.loads((tmp_path / ".claude.json").read_text())["projects"]
    assert trusted[str(spec.worktree)]["hasTrustDialogAccepted"] is True
    workspace.remove(spec.agent_dir, spec.private, spec.worktree)
    assert not spec.agent_dir.exists() and not spec.private.exists()
    assert str(spec.worktree) not in json.loads((tmp_path / ".claude.json").read_text())["projects"]


def test_trusting_keeps_everything_else_in_the_claude_config(tmp_path):
    path = tmp_path / ".claude.json"
    path.write_text(json.dumps({"hasCompletedOnboarding": True, "projects": {"/x": {"a": 1}}}))
    trust_folders([tmp_path / "wt"], path)
    forget_folders([tmp_path / "wt"], path)
    assert json.loads(path.read_text()) == {
        "hasCompletedOnboarding": True,
        "projects": {"/x": {"a": 1}},
    }


def session() -> AgentSession:
    return AgentSession("a1", "t1", "r1", "title", "heph-r1-t1", Path("/wt"), Path("/ad"))


ALIVE = PaneState("heph-r1-t1", False, None, "python")


@pytest.mark.parametrize(
    ("agent", "pane", "verdict"),
    [
        (None, ALIVE, "gone"),
        ({"task_status": "done"}, None, "finished"),
        ({"task_status": "cancelled"}, ALIVE, "stopped"),
        ({"task_status": "running", "last_seen_at": 1.0}, None, "died"),
        ({"task_status": "running"}, PaneState("heph-r1-t1", True, 1, "python"), "died"),
        ({"task_status": "running", "last_seen_at": 1.0}, ALIVE, None),
    ],
)
def test_a_session_is_judged_from_its_record_and_pane(agent, pane, verdict):
    assert judge(session(), agent, pane, start_timeout=60) == verdict


def test_an_agent_that_never_calls_the_server_fails_after_the_start_timeout():
    quiet = session()
    quiet.started = time.monotonic() - 61
    assert judge(quiet, {"task_status": "running"}, ALIVE, start_timeout=60) == "no_start"
    assert judge(quiet, {"task_status": "running", "last_seen_at": 2.0}, ALIVE, 60) is None
    assert judge(quiet, {"task_status": "running"}, ALIVE, 60) is None  # confirmed once


def claude_code_writer(path: Path, stop: threading.Event) -> None:
    """Stand-in for a running Claude Code: read, change and write its config under its lock."""
    n = 0
    while not stop.is_set():
        with config_lock(path):
            data = json.loads(path.read_text())
            time.sleep(0.002)  # the gap between its read and its write
            data["numStartups"] = n = n + 1
            path.write_text(json.dumps(data))


def test_trust_entries_survive_a_claude_code_session_rewriting_its_config(tmp_path):
    path = tmp_path / ".claude.json"
    path.write_text(json.dumps({"projects": {}}))
    stop = threading.Event()
    writer = threading.Thread(target=claude_code_writer, args=(path, stop))
    writer.start()
    try:
        for i in range(30):
            trust_folders([tmp_path / f"wt{i}"], path)
    finally:
        stop.set()
        writer.join(timeout=10)
    projects = json.loads(path.read_text())["projects"]
    assert sorted(projects) == sorted(str(tmp_path / f"wt{i}") for i in range(30))


def test_a_lock_left_by_a_dead_process_is_cleared_once_stale(tmp_path):
    path = tmp_path / ".claude.json"
    lock = tmp_path / ".claude.json.lock"
    lock.mkdir()
    old = time.time() - 60
    os.utime(lock, (old, old))
    trust_folders([tmp_path / "wt"], path)
    assert str(tmp_path / "wt") in json.loads(path.read_text())["projects"]
    assert not lock.exists()


def test_a_lock_held_too_long_fails_with_the_lock_path_in_the_message(tmp_path):
    path = tmp_path / ".claude.json"
    (tmp_path / ".claude.json.lock").mkdir()
    with (
        pytest.raises(ConfigLockTimeout, match=r"\.claude\.json\.lock held"),
        config_lock(path, wait=0.2),
    ):
        pass
