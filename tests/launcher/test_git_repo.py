"""The git adapter on real repositories: worktrees, leftovers, merges without a checkout."""

from __future__ import annotations

from pathlib import Path

import pytest
from swarmkit import git

from launcher.git_repo import GitError, open_repo


@pytest.fixture
def repo(project: Path):
    return open_repo(project)


def worktree_with(repo, project: Path, name: str, files: dict[str, str]) -> Path:
    path = project / ".hephaestus" / "worktrees" / name
    repo.add_worktree(path, f"heph/r1-{name}", "heph/r1")
    for rel, text in files.items():
        (path / rel).write_text(text)
    repo.commit_leftovers(path, f"work of {name}")
    return path


def test_a_clean_merge_lands_on_the_run_branch_and_leaves_the_checkout_alone(repo, project):
    (project / "README.md").write_text("user edit in progress\n")
    git(project, "add", "README.md")
    head, index = git(project, "rev-parse", "HEAD"), git(project, "diff", "--cached")
    repo.ensure_branch("heph/r1", "HEAD")
    worktree_with(repo, project, "t1", {"a.txt": "a\n"})

    outcome = repo.merge("heph/r1", "heph/r1-t1", "merge t1")

    assert outcome.state == "merged" and outcome.commit
    assert git(project, "show", "heph/r1:a.txt") == "a"
    assert git(project, "rev-parse", "heph/r1^2") == git(project, "rev-parse", "heph/r1-t1")
    assert (git(project, "rev-parse", "HEAD"), git(project, "diff", "--cached")) == (head, index)
    assert (project / "README.md").read_text() == "user edit in progress\n"


def test_conflicting_branches_report_their_files_and_change_nothing(repo, project):
    repo.ensure_branch("heph/r1", "HEAD")
    worktree_with(repo, project, "t1", {"README.md": "one\n"})
    worktree_with(repo, project, "t2", {"README.md": "two\n", "extra.txt": "x\n"})
    assert repo.merge("heph/r1", "heph/r1-t1", "merge t1").state == "merged"
    before = git(project, "rev-parse", "heph/r1")

    outcome = repo.merge("heph/r1", "heph/r1-t2", "merge t2")

    assert (outcome.state, outcome.conflicts) == ("conflict", ["README.md"])
    assert git(project, "rev-parse", "heph/r1") == before
    assert git(project, "show", "heph/r1-t2:README.md") == "two"


def test_a_branch_with_no_new_commits_merges_as_nothing(repo, project):
    repo.ensure_branch("heph/r1", "HEAD")
    path = project / ".hephaestus" / "worktrees" / "t1"
    repo.add_worktree(path, "heph/r1-t1", "heph/r1")
    assert repo.commit_leftovers(path, "nothing") is None
    assert repo.merge("heph/r1", "heph/r1-t1", "m").state == "nothing"


def test_a_retry_reuses_the_branch_and_keeps_earlier_commits(repo, project):
    repo.ensure_branch("heph/r1", "HEAD")
    path = worktree_with(repo, project, "t1", {"first.txt": "kept\n"})
    repo.remove_worktree(path)
    repo.add_worktree(path, "heph/r1-t1", "heph/r1")
    assert (path / "first.txt").read_text() == "kept\n"


def test_a_folder_that_is_not_a_repository_gets_the_fix_in_the_error(tmp_path):
    with pytest.raises(GitError, match="not a git repository.*git init"):
        open_repo(tmp_path)


def test_a_repository_without_commits_is_refused(tmp_path):
    git(tmp_path, "init", "-q")
    with pytest.raises(GitError, match="no commits yet"):
        open_repo(tmp_path)
