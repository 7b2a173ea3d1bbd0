"""The permission hook as Claude Code runs it: a process with the request on stdin.

Against a real server on loopback (`LocalServer`) with a real agent token: the
policy's decision comes back in the hook's output format, and every failure is a
denial that says why, never an exit that would let Claude Code show its dialog.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarmkit import make_project, running_swarm, swarm_settings

from claude_config.templates import HOOK_SCRIPT
from testkit import free_port


def run_hook(config: Path, event: dict, **env: str) -> tuple[dict, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-I", str(HOOK_SCRIPT), str(config)],
        input=json.dumps(event), capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)["hookSpecificOutput"]
    assert output["hookEventName"] == "PermissionRequest"
    return output["decision"], time.perf_counter() - started


def hook_config(folder: Path, url: str, token: str, **extra) -> Path:
    path = folder / "hook.json"
    path.write_text(json.dumps({"url": url, "token": token, "sandboxed": True, **extra}))
    return path


@pytest.fixture
async def agent(tmp_path: Path, embedder) -> Iterator[tuple[str, str, Path]]:
    """A server and one registered agent: (base URL, the agent's token, the state folder)."""
    settings = swarm_settings(make_project(tmp_path))
    async with running_swarm(settings, embedder) as swarm:
        run = await swarm.user.call("start_workflow", workflow="scripted", goal="hook")
        async with swarm.ops() as ops:
            await ops.call("claim_task", worker="w", slots=1)
            registered = await ops.call(
                "register_agent", task_id=run["task_id"], worker="w", session_name="s", cli="claude"
            )
        yield settings.url.removesuffix("/mcp"), registered["token"], settings.state_dir


async def test_the_policys_decision_comes_back_in_the_hooks_format(agent, tmp_path):
    url, token, state = agent
    config = hook_config(tmp_path, url, token)
    allowed, _ = run_hook(config, {"tool_name": "Bash", "tool_input": {"command": "(ls &)"}})
    secret = {"file_path": str(state / "secrets" / "ops.token")}
    denied, _ = run_hook(config, {"tool_name": "Read", "tool_input": secret, "cwd": "/"})
    assert allowed == {"behavior": "allow"}
    assert denied["behavior"] == "deny" and "belongs to Hephaestus" in denied["message"]


async def test_a_proxy_in_the_environment_never_sees_the_request(agent, tmp_path):
    url, token, _ = agent
    dead = f"http://127.0.0.1:{free_port()}"
    decision, _ = run_hook(
        hook_config(tmp_path, url, token),
        {"tool_name": "Bash", "tool_input": {"command": "(ls &)"}},
        http_proxy=dead, HTTP_PROXY=dead, all_proxy=dead,
    )  # fmt: skip
    assert decision == {"behavior": "allow"}


def test_no_server_is_a_denial_with_the_reason_after_a_short_patience(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    config = hook_config(tmp_path, url, "heph_agent_x", patience=1)
    decision, took = run_hook(config, {"tool_name": "WebFetch", "tool_input": {}})
    assert decision["behavior"] == "deny"
    assert "could not decide" in decision["message"] and took < 30


def test_a_broken_config_or_request_is_a_denial_too(tmp_path):
    broken = tmp_path / "hook.json"
    broken.write_text("{not json")
    decision, _ = run_hook(broken, {"tool_name": "Bash"})
    assert decision["behavior"] == "deny" and "could not decide" in decision["message"]


async def test_an_unknown_token_is_refused_with_the_servers_words(agent, tmp_path):
    url, _, _ = agent
    decision, _ = run_hook(hook_config(tmp_path, url, "heph_agent_forged"), {"tool_name": "Bash"})
    assert decision["behavior"] == "deny" and "401" in decision["message"]
