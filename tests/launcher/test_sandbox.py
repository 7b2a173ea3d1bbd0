"""The agents' sandbox: the plan, Claude Code's settings for it, and bubblewrap enforcing it.

The bubblewrap tests run real commands in the real sandbox (as CI, we are root:
file modes stop nothing, so only the sandbox can).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from swarmkit import git, make_project

from claude_config.confinement import Confinement, user_secrets
from claude_config.templates import AgentLaunch, claude_settings, hook_command
from launcher.sandbox import SandboxError, bwrap_argv, check_sandbox, git_guarded


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A project with Hephaestus' state beside two agents, as the launcher lays it out."""
    project = make_project(tmp_path)
    state = project / ".hephaestus"
    paths = {
        "project": project,
        "state": state,
        "worktree": state / "worktrees" / "r1-t1",
        "other_worktree": state / "worktrees" / "r1-t2",
        "brief_dir": state / "agents" / "heph-r1-t1",
        "private_root": tmp_path / "private",
    }
    paths["private"] = paths["private_root"] / "heph-r1-t1"
    paths["other_private"] = paths["private_root"] / "heph-r1-t2"
    (state / "secrets").mkdir(parents=True)
    (state / "secrets" / "user.token").write_text("heph_user_SECRET\n")
    for name, branch in (("worktree", "b1"), ("other_worktree", "b2")):
        git(project, "worktree", "add", "-q", "-b", branch, str(paths[name]))
    (paths["other_worktree"] / "theirs.txt").write_text("OTHER AGENT WORK\n")
    for folder in ("brief_dir", "private", "other_private"):
        paths[folder].mkdir(parents=True)
    (paths["brief_dir"] / "brief.md").write_text("# Your task: probe\n")
    (paths["private"] / "mcp.json").write_text('{"token": "MY_TOKEN"}')
    (paths["other_private"] / "mcp.json").write_text('{"token": "OTHER_TOKEN"}')
    return paths


def plan_of(paths: dict[str, Path], **extra) -> Confinement:
    git_dir = paths["project"] / ".git"
    return Confinement(
        worktree=paths["worktree"], brief=paths["brief_dir"] / "brief.md",
        private=paths["private"], state_dir=paths["state"],
        private_root=paths["private_root"], git_dir=git_dir,
        scratch=paths["private"] / "tmp",
        git_guarded=git_guarded(git_dir, paths["worktree"], "b1"), **extra,
    )  # fmt: skip


def confined(plan: Confinement, script: str) -> subprocess.CompletedProcess[str]:
    (plan.scratch or plan.private).mkdir(exist_ok=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x",
           "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}  # fmt: skip
    return subprocess.run(
        bwrap_argv(plan, ["sh", "-c", script]), capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip


def test_the_probe_passes_on_this_machine_and_names_the_fix_when_bubblewrap_is_missing(
    monkeypatch, tmp_path
):
    check_sandbox()
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(SandboxError, match="apt-get install bubblewrap socat.*--no-sandbox"):
        check_sandbox()


def test_a_confined_agent_works_and_commits_in_its_worktree(layout):
    work = "python3 -c 'print(6 * 7)' && echo hi > new.txt && git add new.txt"
    done = confined(plan_of(layout), work + " && git commit -qm 'sandboxed' && echo committed")
    assert done.stdout.split() == ["42", "committed"], done.stderr
    assert git(layout["project"], "show", "b1:new.txt") == "hi"


def test_a_confined_agent_cannot_read_tokens_other_agents_or_the_state(layout):
    paths = [
        layout["state"] / "secrets" / "user.token",
        layout["other_private"] / "mcp.json",
        layout["other_worktree"] / "theirs.txt",
        Path("../../secrets/user.token"),
    ]
    script = "; ".join(f"cat {shlex.quote(str(p))}" for p in paths)
    script += f"; git diff --no-index /dev/null {layout['state']}/secrets/user.token"
    done = confined(plan_of(layout), script + "; cat ../../agents/heph-r1-t1/brief.md")
    assert "SECRET" not in done.stdout + done.stderr
    assert "OTHER" not in done.stdout + done.stderr
    assert "# Your task: probe" in done.stdout  # its own brief stays readable


def test_a_confined_agent_cannot_plant_git_hooks_or_config_nor_touch_the_checkout(layout):
    project = layout["project"]
    script = (
        f"echo 'touch /tmp/pwned' > {project}/.git/hooks/post-checkout;"
        f" git config core.fsmonitor 'touch /tmp/pwned';"
        f" echo changed > {project}/README.md; echo done"
    )
    done = confined(plan_of(layout), script)
    assert "done" in done.stdout
    assert not (project / ".git" / "hooks" / "post-checkout").exists()
    assert "fsmonitor" not in (project / ".git" / "config").read_text()
    assert (project / "README.md").read_text() == "# demo\n"


def test_a_confined_agent_moves_no_branch_but_its_own_and_cannot_repoint_its_worktree(layout):
    project, admin = layout["project"], layout["project"] / ".git" / "worktrees" / "r1-t1"
    before = {ref: git(project, "rev-parse", ref) for ref in ("main", "b2", "HEAD")}
    script = (
        "git update-ref refs/heads/main HEAD; git update-ref refs/heads/b2 HEAD;"
        f" echo 'ref: refs/heads/b2' > {project}/.git/HEAD; echo 'gitdir: /tmp/evil' > .git;"
        f" echo /tmp/evil > {admin}/commondir; git symbolic-ref HEAD refs/heads/main;"
        " echo x > x.txt && git add x.txt && git commit -qm mine && echo committed"
    )
    done = confined(plan_of(layout), script)
    assert "committed" in done.stdout, done.stderr
    assert {ref: git(project, "rev-parse", ref) for ref in before} == before
    assert git(project, "show", "b1:x.txt") == "x"
    assert (admin / "commondir").read_text().strip() == "../.."
    assert (layout["worktree"] / ".git").read_text().startswith(f"gitdir: {admin}")


def test_an_agent_starts_even_when_a_guarded_branch_is_deleted_before_its_sandbox_opens(layout):
    """The merge queue deletes a merged task's branch at any moment; once, in a full run,
    bwrap refused to start an agent whose plan still listed that branch's ref file."""
    project = layout["project"]
    git(project, "branch", "b3")
    plan = plan_of(layout)
    (plan.scratch or plan.private).mkdir(exist_ok=True)
    argv = bwrap_argv(plan, ["sh", "-c", "echo started"])
    assert str(project / ".git" / "refs" / "heads" / "b3") in argv
    git(project, "branch", "-D", "b3")  # merged and cleaned up meanwhile
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "started", done.stderr


def test_the_tmux_server_that_runs_the_agents_is_out_of_reach(layout):
    socket = f"heph-sandbox-{os.getpid()}"
    subprocess.run(["tmux", "-L", socket, "new-session", "-d", "sleep", "30"], check=True)
    try:
        marker = layout["project"].parent / "escaped"
        escape = f"tmux -L {socket} run-shell 'touch {marker}'; echo tried"  # waits for it
        done = confined(plan_of(layout), escape)
        assert "tried" in done.stdout and not marker.exists()
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False)


def test_the_users_own_credentials_are_hidden_too(layout, tmp_path):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n")
    (home / ".netrc").write_text("machine x password HUNTER2\n")
    plan = plan_of(layout, user_secrets=user_secrets(home))
    done = confined(plan, f"cat {home}/.ssh/id_ed25519 {home}/.netrc; ls {home}/.ssh; echo ok")
    assert "PRIVATE KEY" not in done.stdout and "HUNTER2" not in done.stdout
    assert done.stdout.strip().endswith("ok")
    settings = claude_settings(launch_of(layout, confinement=plan))
    assert str(home / ".ssh") in settings["sandbox"]["filesystem"]["denyRead"]
    assert f"Read(/{home}/.netrc)" in settings["permissions"]["deny"]


def test_a_validator_cannot_change_the_work_it_judges(layout):
    (layout["worktree"] / "work.py").write_text("ANSWER = 42\n")
    plan = plan_of(layout).freeze()
    script = "echo 'ANSWER = 0' > work.py; python3 -c 'import work; print(work.ANSWER)'"
    done = confined(plan, script)
    assert done.stdout.strip() == "42"
    assert (layout["worktree"] / "work.py").read_text() == "ANSWER = 42\n"


def launch_of(paths: dict[str, Path], **extra) -> AgentLaunch:
    return AgentLaunch(
        url="http://127.0.0.1:9/mcp", token="heph_agent_T", agent_dir=paths["brief_dir"],
        private_dir=paths["private"], worktree=paths["worktree"], task_id="t1", run_id="r1",
        **extra,
    )  # fmt: skip


def test_claude_settings_sandbox_every_command_and_send_what_is_left_to_the_hook(layout):
    settings = claude_settings(launch_of(layout, confinement=plan_of(layout)))
    sandbox = settings["sandbox"]
    assert sandbox["enabled"] and sandbox["autoAllowBashIfSandboxed"]
    assert sandbox["allowUnsandboxedCommands"] is False
    assert sandbox["filesystem"]["denyRead"][:2] == [
        str(layout["state"]), str(layout["private_root"])
    ]  # fmt: skip
    assert sandbox["filesystem"]["allowRead"] == [
        str(layout["worktree"]), str(layout["brief_dir"] / "brief.md")
    ]  # fmt: skip
    assert sandbox["network"]["allowedDomains"] == ["*"]
    allow = settings["permissions"]["allow"]
    assert not {"Read", "Edit", "Write", "Bash"} & set(allow)  # only the worktree, by default
    assert f"Read(/{layout['state']}/secrets/**)" in settings["permissions"]["deny"]
    hook = settings["hooks"]["PermissionRequest"][0]["hooks"][0]
    assert shlex.split(hook["command"])[:2] == [sys.executable, "-I"]
    assert "heph_agent_T" not in json.dumps(settings)  # the token stays in the hook's config


def test_a_validators_settings_freeze_its_worktree_and_deny_the_edit_tools(layout):
    (layout["worktree"] / "work.py").write_text("x = 1\n")
    launch = launch_of(layout, confinement=plan_of(layout).freeze(), read_only=True)
    settings = claude_settings(launch)
    frozen = settings["sandbox"]["filesystem"]["denyWrite"]
    assert str(layout["worktree"] / "work.py") in frozen
    assert {"Edit", "Write", "NotebookEdit"} <= set(settings["permissions"]["deny"])


def test_without_the_sandbox_commands_run_as_they_are_and_the_hook_still_decides(layout):
    settings = claude_settings(launch_of(layout))
    assert "sandbox" not in settings and "Bash" in settings["permissions"]["allow"]
    assert hook_command(launch_of(layout)) in json.dumps(settings)
