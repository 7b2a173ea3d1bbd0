"""Property: any create_task call either stores exactly one matching task or changes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heph_mcp.client import HephClient, LocalServer
from heph_mcp.identity import local_token
from heph_mcp.settings import load_settings
from testkit import free_port

PHASES = st.one_of(st.integers(-3, 6), st.sampled_from(["reproduce", "fix", "verify", "x", ""]))
TEXT = st.text(max_size=300)
ARGS = st.fixed_dictionaries(
    {"phase": PHASES, "title": TEXT, "description": TEXT},
    optional={
        "priority": st.sampled_from(["low", "medium", "high", "critical", "urgent", ""]),
        "done_definition": TEXT,
        "depends_on": st.lists(st.text(max_size=12), max_size=3),
        "bogus": st.integers(),
    },
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, embedder):
    project = tmp_path_factory.mktemp("prop")
    server_settings = load_settings(project=project, port=free_port())
    with LocalServer(server_settings, embedder=embedder) as server:
        started = asyncio.run(
            _call(server.client(), "start_workflow", workflow="bug_fix", goal="property run")
        )
        yield server, started["run_id"]


async def _call(client: HephClient, tool: str, **args):
    async with client:
        return await client.call(tool, **args)


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=ARGS)
def test_create_task_stores_one_matching_task_or_nothing(live, args):
    server, run_id = live
    db = server.settings.db_path
    before = _count(db)
    token = local_token(server.settings.secrets_dir, "user")

    async def attempt():
        async with HephClient(server.settings.url, token) as client:
            result = await client._client.call_tool(
                "create_task", {**args, "run": run_id}, raise_on_error=False
            )
            alive = await client.call("whoami")
        return result, alive

    result, alive = asyncio.run(attempt())
    assert alive["role"] == "user"
    if result.is_error:
        assert result.content[0].text.strip(), "an error must say what was wrong"
        assert _count(db) == before
    else:
        task = result.structured_content
        assert _count(db) == before + 1
        assert task["title"] == args["title"].strip() and task["description"] == args["description"]
        assert task["run_id"] == run_id
