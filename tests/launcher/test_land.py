"""Landing a run on the user's branch, on real repositories: `heph land` and launcher/land.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from swarmkit import git
from typer.testing import CliRunner

from heph_mcp.commands.cli import app
from launcher.git_repo import open_repo
from launcher.land import land


def commit_on(project: Path, branch: str, files: dict[str, str], message: str) -> None:
    """Commit files on a branch without touching the project's checkout (a scratch worktree)."""
    path = project.parent / f"wt-{branch.replace('/', '-')}"
    if not path.exists():
        git(project, "worktree", "add", "-q", str(path), branch)
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)


@pytest.fixture
def run_branch(project: Path) -> str:
    """heph/r1 one commit ahead of main, as a finished run leaves it."""
    git(project, "branch", "heph/r1", "main")
    commit_on(project, "heph/r1", {"greet.py": "print('hello')\n"}, "greeting")
    return "heph/r1"


def test_landing_fast_forwards_the_checked_out_branch_and_its_files(project, run_branch):
    outcome = land(open_repo(project), "r1", None)

    assert outcome.state == "landed" and "fast-forward" in outcome.message
    assert git(project, "rev-parse", "main") == git(project, "rev-parse", "heph/r1")
    assert (project / "greet.py").read_text() == "print('hello')\n"
    assert git(project, "status", "--porcelain") == ""


def test_landing_on_a_branch_that_moved_makes_a_merge_commit(project, run_branch):
    (project / "user.txt").write_text("mine\n")
    git(project, "add", "user.txt")
    git(project, "commit", "-q", "-m", "the user's own work")
    before = git(project, "rev-parse", "main")

    outcome = land(open_repo(project), "r1", "main")

    assert outcome.state == "landed" and "merge commit" in outcome.message
    assert git(project, "rev-parse", "main^1") == before
    assert git(project, "rev-parse", "main^2") == git(project, "rev-parse", "heph/r1")
    assert (project / "greet.py").exists() and (project / "user.txt").exists()
    assert git(project, "status", "--porcelain") == ""


def test_a_dirty_checkout_is_refused_and_nothing_changes(project, run_branch):
    (project / "README.md").write_text("half-written\n")
    before = git(project, "rev-parse", "main")

    outcome = land(open_repo(project), "r1", None)

    assert outcome.state == "refused"
    assert "uncommitted changes (README.md)" in outcome.message
    assert "commit or stash them" in outcome.message
    assert git(project, "rev-parse", "main") == before
    assert (project / "README.md").read_text() == "half-written\n"
    assert not (project / "greet.py").exists()


def test_an_untracked_file_the_landing_would_overwrite_is_refused_first(project, run_branch):
    (project / "greet.py").write_text("the user's own draft\n")
    before = git(project, "rev-parse", "main")

    outcome = land(open_repo(project), "r1", None)

    assert outcome.state == "refused" and "greet.py" in outcome.message
    assert git(project, "rev-parse", "main") == before
    assert (project / "greet.py").read_text() == "the user's own draft\n"


def test_a_branch_that_is_not_checked_out_lands_without_touching_the_checkout(project, run_branch):
    git(project, "branch", "release", "main")
    (project / "README.md").write_text("dirty, but not the target\n")

    outcome = land(open_repo(project), "r1", "release")

    assert outcome.state == "landed"
    assert git(project, "show", "release:greet.py") == "print('hello')"
    assert not (project / "greet.py").exists()
    assert (project / "README.md").read_text() == "dirty, but not the target\n"


def test_conflicts_nothing_to_land_and_a_missing_run_are_refused_with_the_reason(
    project, run_branch
):
    repo = open_repo(project)
    assert land(repo, "r2", None).message.startswith("there is no branch heph/r2")
    git(project, "branch", "heph/r3", "main")
    assert land(repo, "r3", None).state == "nothing"
    (project / "greet.py").write_text("print('bonjour')\n")
    git(project, "add", "greet.py")
    git(project, "commit", "-q", "-m", "a rival greeting")
    conflict = land(repo, "r1", None)
    assert conflict.state == "refused" and "conflicts with main in greet.py" in conflict.message


def test_heph_land_prints_the_outcome_and_exits_1_when_refused(project, run_branch):
    runner = CliRunner()
    (project / "README.md").write_text("dirty\n")
    refused = runner.invoke(app, ["land", "r1", "--project", str(project)])
    git(project, "checkout", "-q", "README.md")
    landed = runner.invoke(app, ["land", "r1", "--project", str(project)])

    assert refused.exit_code == 1 and "uncommitted changes (README.md)" in refused.stderr
    assert landed.exit_code == 0 and "landed heph/r1 on main" in landed.stdout
