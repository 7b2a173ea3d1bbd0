"""The repository of record over git's smart HTTP: ops only, task branches only."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from swarmkit import git, make_project

from heph_mcp.client import LocalServer
from heph_mcp.identity import local_token
from heph_mcp.memory.embedder import LocalEmbedder
from heph_mcp.settings import Settings, load_settings
from testkit import free_port


@pytest.fixture
def served(tmp_path: Path, embedder: LocalEmbedder) -> Iterator[Settings]:
    settings = load_settings(project=make_project(tmp_path), port=free_port())
    with LocalServer(settings, embedder=embedder):
        yield settings


def git_as(token: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git with the bearer token in its environment (never on its command line)."""
    env = os.environ | {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "w", "GIT_AUTHOR_EMAIL": "w@x", "GIT_COMMITTER_NAME": "w",
        "GIT_COMMITTER_EMAIL": "w@x",
    }  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)


def repo_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.port}/git/"


def test_only_the_ops_token_opens_the_repository(served: Settings):
    refs = repo_url(served) + "info/refs?service=git-upload-pack"
    user = local_token(served.secrets_dir, "user")
    ops = local_token(served.secrets_dir, "ops")
    assert httpx.get(refs).status_code == 401
    assert httpx.get(refs, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(refs, headers={"Authorization": f"Bearer {user}"}).status_code == 403
    answer = httpx.get(refs, headers={"Authorization": f"Bearer {ops}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-git-upload-pack-advertisement"


def test_a_worker_clones_and_pushes_task_branches_but_nothing_else(
    served: Settings, tmp_path: Path
):
    ops = local_token(served.secrets_dir, "ops")
    clone = tmp_path / "clone"
    done = git_as(ops, tmp_path, "clone", "-q", repo_url(served), str(clone))
    assert done.returncode == 0, done.stderr
    (clone / "work.txt").write_text("from a worker\n")
    git_as(ops, clone, "add", "work.txt")
    git_as(ops, clone, "commit", "-q", "-m", "work")

    pushed = git_as(
        ops, clone, "push", "origin", "HEAD:refs/heads/heph/r1-t1", "HEAD~0:refs/heads/heph/r1"
    )
    assert pushed.returncode == 0, pushed.stderr
    assert git(served.project, "show", "heph/r1-t1:work.txt") == "from a worker"

    (clone / "more.txt").write_text("more\n")
    git_as(ops, clone, "add", "more.txt")
    git_as(ops, clone, "commit", "-q", "-m", "more")
    for refused in ("HEAD:refs/heads/main", "HEAD:refs/heads/heph/r1", ":refs/heads/heph/r1-t1"):
        answer = git_as(ops, clone, "push", "origin", refused)
        assert answer.returncode != 0, refused
    assert "workers push task branches" in answer.stderr or "deletion" in answer.stderr
    assert git(served.project, "log", "-1", "--format=%s", "main") == "init"
    assert git(served.project, "log", "-1", "--format=%s", "heph/r1") == "work"
    assert git(served.project, "log", "-1", "--format=%s", "heph/r1-t1") == "work"


def test_a_user_token_cannot_clone(served: Settings, tmp_path: Path):
    user = local_token(served.secrets_dir, "user")
    done = git_as(user, tmp_path, "clone", "-q", repo_url(served), str(tmp_path / "c"))
    assert done.returncode != 0
    assert "403" in done.stderr
