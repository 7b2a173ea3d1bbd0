"""The one function that runs a verify command: output, exit status, timeout."""

from __future__ import annotations

import os
import time

from swarmkit import git, make_project

from heph_mcp.settings import load_settings
from launcher.sandbox import bwrap_argv, check_env, check_plan
from launcher.verify import run_verify


async def test_a_passing_and_a_failing_command_keep_their_output(tmp_path):
    passing = await run_verify("echo all good", tmp_path, 30, os.environ, tmp_path / "ok.log")
    failing = await run_verify(
        "echo 'FAILED test_x' >&2; exit 3", tmp_path, 30, os.environ, tmp_path / "no.log"
    )
    assert (passing.passed, passing.exit_code, passing.tail) == (True, 0, "all good\n")
    assert (failing.passed, failing.exit_code) == (False, 3)
    assert "FAILED test_x" in failing.tail and failing.log.read_text() == "FAILED test_x\n"


async def test_a_command_runs_in_the_tree_it_checks_with_no_input(tmp_path):
    (tmp_path / "app.txt").write_text("merged tree\n")
    outcome = await run_verify("cat app.txt; cat", tmp_path, 30, os.environ, tmp_path / "v.log")
    assert outcome.passed and outcome.tail == "merged tree\n"


async def test_a_command_past_its_timeout_is_stopped_with_its_children(tmp_path):
    marker = tmp_path / "late"
    started = time.monotonic()
    outcome = await run_verify(
        f"echo started; (sleep 30; touch {marker}) & sleep 30", tmp_path, 0.5, os.environ,
        tmp_path / "slow.log",
    )  # fmt: skip
    assert (outcome.passed, outcome.timed_out, outcome.exit_code) == (False, True, None)
    assert "started" in outcome.tail and "the verify timeout" in outcome.tail
    assert time.monotonic() - started < 20  # stopped, not waited out
    assert not marker.exists()


async def test_the_output_kept_for_the_brief_is_the_end_of_a_long_log(tmp_path):
    outcome = await run_verify("seq 1 100000", tmp_path, 30, os.environ, tmp_path / "long.log")
    assert outcome.tail.endswith("100000\n") and len(outcome.tail) <= 6000
    assert outcome.log.read_text().startswith("1\n2\n")


async def test_a_check_runs_inside_the_agents_sandbox_without_the_launchers_credentials(
    tmp_path,
):
    project = make_project(tmp_path)
    settings = load_settings(project)
    (settings.secrets_dir).mkdir(parents=True)
    (settings.secrets_dir / "ops.token").write_text("heph_ops_SECRET\n")
    scratch = settings.state_dir / "scratch" / "r1"
    git(project, "worktree", "add", "-q", "--detach", str(scratch))
    plan = check_plan(settings, scratch, project / ".git")
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-SECRET", "HEPH_GUARDIAN_API_KEY": "x"}
    script = (
        f"cat {settings.secrets_dir}/ops.token; env | grep -c SECRET;"
        " echo built > out.txt && cat out.txt && git log --oneline -1 | wc -l"
    )
    outcome = await run_verify(
        script, scratch, 30, check_env(env), tmp_path / "v.log", lambda a: bwrap_argv(plan, a)
    )
    assert "heph_ops_SECRET" not in outcome.tail and "sk-ant" not in outcome.tail
    assert outcome.tail.split()[-3:] == ["0", "built", "1"]  # no secret; writes; reads git
