"""The approval policy, on plain data: hard limits, the workflow's rules, ours, the default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from heph_mcp.services.approval_policy import Asked, Boundary, decide
from phases import ApprovalPolicy, ApprovalRule


@pytest.fixture
def boundary(tmp_path: Path) -> Boundary:
    state = tmp_path / "repo" / ".hephaestus"
    worktree = state / "worktrees" / "r1-t1"
    for folder in (worktree, state / "secrets", state / "agents" / "heph-r1-t1", tmp_path / "p"):
        folder.mkdir(parents=True)
    (state / "secrets" / "user.token").write_text("secret")
    return Boundary(worktree, state / "agents" / "heph-r1-t1", (state, tmp_path / "p"))


def ruled(asked: Asked, boundary: Boundary, **policy) -> tuple[str, str]:
    ruling = decide(asked, boundary, ApprovalPolicy.model_validate(policy))
    return ruling.decision, ruling.by


@pytest.mark.parametrize(
    "path",
    [
        "../../secrets/user.token",
        "{state}/secrets/./user.token",
        "{state}/worktrees/r1-t2/app.py",
        "{state}/heph.db",
        "{private}/heph-r1-t2/mcp.json",
        "{state}/..",  # a folder that holds the state
    ],
)
def test_our_own_files_are_refused_whatever_the_rules_say(boundary, path):
    state, private = boundary.protected
    target = path.format(state=state, private=private)
    asked = Asked("Read", {"file_path": target}, str(boundary.worktree))
    assert ruled(asked, boundary, rules=[{"tool": "*", "decision": "allow"}]) == (
        "deny",
        "hephaestus",
    )


def test_a_glob_pattern_rooted_in_our_state_is_refused_too(boundary):
    state = boundary.protected[0]
    asked = Asked("Glob", {"pattern": f"{state}/secrets/*.token"}, str(boundary.worktree))
    assert ruled(asked, boundary, default="allow")[0] == "deny"


def test_a_link_out_of_the_worktree_is_judged_by_where_it_leads(boundary):
    os.symlink(boundary.protected[0] / "secrets", boundary.worktree / "notes")
    asked = Asked("Read", {"file_path": "notes/user.token"}, str(boundary.worktree))
    assert ruled(asked, boundary)[0] == "deny"


def test_the_worktree_and_the_brief_are_the_agents_own(boundary):
    edit = Asked("Edit", {"file_path": str(boundary.worktree / "a.py")}, str(boundary.worktree))
    brief = boundary.brief_dir / "brief.md"
    read = Asked("NotebookRead", {"notebook_path": str(brief)}, str(boundary.worktree))
    assert ruled(edit, boundary) == ("allow", "built-in: inside the worktree")
    assert ruled(read, boundary, default="allow") == ("allow", "default")


def test_rules_see_the_real_path_so_dots_do_not_dodge_a_deny(boundary, tmp_path):
    (tmp_path / "vendor").mkdir()
    sneaky = f"{boundary.worktree}/../../../../vendor/lib.py"
    asked = Asked("Read", {"file_path": sneaky}, str(boundary.worktree))
    rule = {"tool": "Read", "match": f"{tmp_path}/vendor/*", "decision": "deny"}
    assert ruled(asked, boundary, rules=[rule]) == ("deny", "policy:1")


def test_a_phase_rule_wins_over_the_workflows_and_the_timeout_follows_the_phase(boundary):
    asked = Asked("Bash", {"command": "docker run x"}, sandboxed=True)
    workflow = ApprovalPolicy(rules=[ApprovalRule(tool="Bash", decision="allow")], timeout=60)
    phase = ApprovalPolicy(rules=[ApprovalRule(tool="Bash", match="docker *", decision="ask")],
                           timeout=5)  # fmt: skip
    ruling = decide(asked, boundary, workflow, phase)
    assert (ruling.decision, ruling.by, ruling.timeout) == ("ask", "policy:1", 5)


def test_a_question_rule_matches_the_question_text(boundary):
    asked = Asked("AskUserQuestion", {"questions": [{"question": "Delete the cache?"}]})
    rule = {"tool": "AskUserQuestion", "match": "Delete*", "decision": "deny"}
    assert ruled(asked, boundary, rules=[rule]) == ("deny", "policy:1")
    assert ruled(asked, boundary)[0] == "ask"  # without a rule, a question is for the user


def test_a_shell_command_is_allowed_only_when_it_runs_in_the_sandbox(boundary):
    command = {"command": "(make &); wait"}
    assert ruled(Asked("Bash", command, sandboxed=True), boundary)[0] == "allow"
    assert ruled(Asked("Bash", command, sandboxed=False), boundary) == ("deny", "default")


@pytest.mark.parametrize(
    ("url", "network", "decision"),
    [
        ("https://example.com/x", ("*",), "allow"),
        ("https://pypi.org/simple/", ("pypi.org",), "allow"),
        ("https://files.pythonhosted.org/a", ("*.pythonhosted.org",), "allow"),
        ("https://example.com/x", ("pypi.org",), "deny"),
        ("not a url", ("pypi.org",), "deny"),
    ],
)
def test_webfetch_follows_the_agents_network_list(boundary, url, network, decision):
    asked = Asked("WebFetch", {"url": url, "prompt": "p"}, network=network)
    assert ruled(asked, boundary)[0] == decision
