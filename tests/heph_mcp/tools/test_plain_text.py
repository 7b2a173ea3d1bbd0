"""Text fields refuse NUL, control characters and terminal escapes, with a clear error.

A NUL in a task title once crashed `heph up` at merge time (`git commit-tree -m`);
escapes in titles rewrote the user's terminal. Every tool's text fields are
checked at the boundary: the call is refused, the store unchanged, the server alive.
"""

from __future__ import annotations

import asyncio
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heph_mcp.client import HephClient, LocalServer
from heph_mcp.identity import local_token
from heph_mcp.settings import load_settings
from heph_mcp.tools.plain_text import CONTROL
from testkit import free_port

CONTROLS = [chr(c) for c in range(0xA0) if unicodedata.category(chr(c)) == "Cc"]
REFUSED = [c for c in CONTROLS if c not in "\n\t"]
ESCAPES = ["\x1b]52;c;aGVsbG8=\x07", "\x1b[2J\x1b[H", "\x1b]0;owned\x07", "\x9b31m", "\x00"]
FORMATS = ["#S", "#(touch /tmp/heph-pwned)", "#{session_name}", "#{pane_current_path}", "##"]
SAFE = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)
HOSTILE = st.builds(
    lambda head, bad, tail: head + bad + tail,
    SAFE,
    st.one_of(st.sampled_from(REFUSED), st.sampled_from(ESCAPES), st.sampled_from(FORMATS)),
    SAFE,
)
# Arguments that make a call succeed, so a clean hostile string reaches the service.
BASE: dict[str, dict[str, Any]] = {
    "create_task": {"phase": 2, "title": "t", "description": "d"},
    "save_memory": {"content": "c", "type": "discovery"},
    "find_memories": {"query": "q"},
    "start_workflow": {"workflow": "bug_fix", "goal": "g"},
    "broadcast_message": {"text": "x"},
    "get_tasks": {},
}


def _snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                " AND name NOT LIKE '%fts%'"
            )
        ]
        return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}"))) for t in tables}


def _text_fields(schema: dict[str, Any]) -> list[tuple[str, bool]]:
    """(field, is a list of strings) for every top-level text field of a tool."""
    fields = []
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf", [prop])
        if any(o.get("type") == "string" and "enum" not in o for o in options):
            fields.append((name, False))
        elif any((o.get("items") or {}).get("type") == "string" for o in options):
            fields.append((name, True))
    return fields


async def _call(url: str, token: str, tool: str, args: dict[str, Any]):
    async with HephClient(url, token) as client:
        result = await client._client.call_tool(tool, args, raise_on_error=False)
        alive = await client.call("whoami")
    return result, alive


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, embedder):
    """A real server on a loopback port with a run, an agent on its first task, and every
    role's token and text fields."""
    project = tmp_path_factory.mktemp("plain")
    server_settings = load_settings(project=project, port=free_port())
    with LocalServer(server_settings, embedder=embedder):
        tokens = {r: local_token(server_settings.secrets_dir, r) for r in ("user", "ops")}
        tokens["agent"] = asyncio.run(_agent(server_settings.url, tokens))
        targets = asyncio.run(_targets(server_settings.url, tokens))
        yield server_settings, tokens, targets


async def _agent(url: str, tokens: dict[str, str]) -> str:
    async with HephClient(url, tokens["user"]) as user:
        await user.call("start_workflow", workflow="bug_fix", goal="plain text run")
    async with HephClient(url, tokens["ops"]) as ops:
        task = (await ops.call("claim_task", worker="w1", slots=4))["task"]
        name = f"heph-{task['run_id']}-{task['id']}"
        agent = await ops.call(
            "register_agent", task_id=task["id"], worker="w1", session_name=name, cli="claude"
        )
    return str(agent["token"])


async def _targets(url: str, tokens: dict[str, str]) -> list[tuple[str, str, str, bool]]:
    found = []
    for role, token in tokens.items():
        async with HephClient(url, token) as client:
            for tool in await client._client.list_tools():
                for field, is_list in _text_fields(tool.input_schema):
                    found.append((role, tool.name, field, is_list))
    return found


def test_every_role_has_text_fields_to_check(live):
    _, _, targets = live
    tools = {t[1] for t in targets}
    assert {"create_task", "update_task_status", "register_agent", "save_memory"} <= tools


async def test_a_nul_in_a_task_title_is_refused_naming_the_field(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        result = await client.call_tool(
            "create_task",
            {"phase": 2, "title": "fix\x00it", "description": "d"},
            raise_on_error=False,
        )
        learn = await client.call_tool(
            "update_task_status",
            {"status": "done", "summary": "ok", "learnings": ["fine", "\x1b]52;c;eA==\x07"]},
            raise_on_error=False,
        )
    assert result.is_error and "title" in result.content[0].text
    assert "U+0000" in result.content[0].text and "newlines and tabs" in result.content[0].text
    assert learn.is_error and "learnings[1]" in learn.content[0].text
    assert heph.snapshot() == before


async def test_newlines_and_tabs_are_kept(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        made = await client.call_tool(
            "create_task", {"phase": 2, "title": "a\tb", "description": "line one\nline two"}
        )
    assert made.structured_content["description"] == "line one\nline two"


async def test_every_text_field_in_every_schema_states_the_rule(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    missing = []
    for client in (heph.user(), heph.ops(), heph.client(agent.token)):
        async with client:
            for tool in await client.list_tools():
                missing += [f"{tool.name}.{path}" for path in _unpatterned(tool.input_schema)]
    assert not missing


def _unpatterned(schema: Any, path: str = "") -> list[str]:
    if isinstance(schema, list):
        return [p for s in schema for p in _unpatterned(s, path)]
    if not isinstance(schema, dict):
        return []
    found = []
    if schema.get("type") == "string" and not {"pattern", "enum", "const"} & schema.keys():
        found.append(path)
    for key, value in schema.items():
        if key != "default":
            found += _unpatterned(value, f"{path}.{key}" if path else key)
    return found


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), text=HOSTILE)
def test_any_tools_text_fields_give_a_clear_error_or_a_safe_echo(live, data, text):
    server_settings, tokens, targets = live
    role, tool, field, is_list = data.draw(st.sampled_from(targets))
    value: Any = [text] if is_list else text
    args = {**BASE.get(tool, {}), field: value}
    before = _snapshot(server_settings.db_path)
    result, alive = asyncio.run(_call(server_settings.url, tokens[role], tool, args))
    assert alive["role"] == role  # the server is alive and still knows the caller
    if CONTROL.search(text):
        message = result.content[0].text
        assert result.is_error, (tool, field)
        assert field in message and "control character" in message, message
        assert _snapshot(server_settings.db_path) == before
    elif not result.is_error and tool == "create_task" and field == "title":
        # A safe echo: stored and returned exactly (stripped), never expanded.
        assert result.structured_content["title"] == text.strip() or not text.strip()
