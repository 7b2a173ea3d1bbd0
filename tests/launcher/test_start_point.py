"""Where a new task's worktree starts (launcher/lineage.py), on a real repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from swarmkit import git

from launcher.git_repo import open_repo
from launcher.lineage import Source, sources, start_point


@pytest.fixture
def repo(project: Path):
    repo = open_repo(project)
    repo.ensure_branch("heph/r1", "HEAD")
    return repo


def branch_with(repo, project: Path, name: str, files: dict[str, str], base: str = "heph/r1"):
    path = project / ".hephaestus" / "worktrees" / name
    repo.add_worktree(path, f"heph/r1-{name}", base)
    for rel, text in files.items():
        (path / rel).write_text(text)
    repo.commit_leftovers(path, f"work of {name}")
    return Source(f"heph/r1-{name}", "creator", name)


def files_at(project: Path, commit: str) -> dict[str, str]:
    names = git(project, "ls-tree", "--name-only", commit).split()
    return {n: git(project, "show", f"{commit}:{n}") for n in names}


def test_a_creator_that_branched_from_the_tip_is_the_start_itself(repo, project):
    creator = branch_with(repo, project, "t1", {"greet.py": "hello"})
    holding = start_point(repo, "r1", [creator], "t2")
    assert holding.start == git(project, "rev-parse", "heph/r1-t1")
    assert [s.role for s in holding.holds] == ["run", "creator"] and holding.notes == []


def test_unmerged_work_is_merged_onto_the_run_branch_and_merged_work_is_skipped(repo, project):
    creator = branch_with(repo, project, "t1", {"greet.py": "hello"})
    dependency = Source(
        branch_with(repo, project, "t2", {"store.py": "rows"}).branch, "dependency", "t2"
    )
    merged = branch_with(repo, project, "t3", {"old.py": "landed"})
    repo.merge("heph/r1", "heph/r1-t3", "t3 landed")

    holding = start_point(repo, "r1", [creator, dependency, merged], "t4")

    assert files_at(project, holding.start) == {
        "README.md": "# demo", "greet.py": "hello", "store.py": "rows", "old.py": "landed"
    }  # fmt: skip
    assert [s.task_id for s in holding.holds] == [None, "t1", "t2"]
    text = holding.text()
    assert "- heph/r1-t1 at" in text and "which created this task" in text
    assert "which this task depends on" in text and "heph/r1-t3" not in text


def test_a_creator_that_conflicts_with_the_run_branch_is_the_start_and_the_brief_says_so(
    repo, project
):
    creator = branch_with(repo, project, "t1", {"README.md": "mine"})
    branch_with(repo, project, "t2", {"README.md": "theirs"})
    repo.merge("heph/r1", "heph/r1-t2", "t2 landed first")
    dependency = branch_with(repo, project, "t3", {"extra.py": "x"}, base="heph/r1-t2")

    holding = start_point(repo, "r1", [creator, Source(dependency.branch, "dependency", "t3")],
                          "t4")  # fmt: skip

    assert files_at(project, holding.start)["README.md"] == "mine"
    assert [s.task_id for s in holding.holds] == ["t1"]
    assert "conflicted in README.md" in holding.notes[0]
    assert "heph/r1 at" in holding.notes[0] and "is NOT in it" in holding.notes[0]
    assert "heph/r1-t3" in holding.notes[1] and "`git merge heph/r1-t3`" in holding.notes[1]


def test_sources_are_the_creator_then_the_dependencies_and_a_validators_checked_task():
    task = {"run_id": "r1", "depends_on": ["t2", "t1"]}
    work = {"id": "t1", "kind": "work"}
    validator = {"id": "v1", "kind": "validation", "validates": "t9"}
    result = {"id": "v2", "kind": "result_validation", "validates": None}
    assert [(s.task_id, s.role) for s in sources(task, work)] == [
        ("t1", "creator"), ("t2", "dependency")]  # fmt: skip
    assert [s.task_id for s in sources(task, validator)] == ["t9", "t2", "t1"]
    assert [s.task_id for s in sources(task, result)] == ["t2", "t1"]
    assert sources({"run_id": "r1", "depends_on": []}, None) == []
