"""Memory tools with the real model and embedded Qdrant."""

from __future__ import annotations

import pytest

FIXTURE = [
    (
        "codebase_knowledge",
        "Settings are one pydantic-settings model in heph_mcp/settings.py; "
        "HEPH_* environment variables override hephaestus.toml.",
    ),
    (
        "error_fix",
        "pytest hung on CI because the tmux server from an earlier test kept running; "
        "each test now uses its own tmux socket with -L.",
    ),
    ("decision", "We store only sha256 hashes of agent tokens, never the tokens themselves."),
    (
        "warning",
        "Do not run two heph servers on one project: the embedded Qdrant folder is "
        "locked by the first one.",
    ),
    ("discovery", "The date picker's month index is zero-based, so January showed December."),
    ("learning", "git merge-tree --write-tree merges without touching the working copy."),
]
QUERIES = [
    ("where are configuration options defined?", 0),
    ("tests freeze in continuous integration", 1),
    ("how are agent credentials kept?", 2),
    ("can I start a second server for the same repository?", 3),
    ("calendar shows the wrong month", 4),
    ("merge a branch without checking it out", 5),
]


async def _save_all(client, items=FIXTURE):
    ids = []
    for kind, text in items:
        saved = await client.call_tool("save_memory", {"content": text, "type": kind})
        ids.append(saved.structured_content["memory"]["id"])
    return ids


@pytest.fixture
async def agent(heph):
    await heph.start_run()
    return await heph.launch_agent()


async def test_find_memories_ranks_the_right_memory_first(heph, agent):
    async with heph.client(agent.token) as client:
        ids = await _save_all(client)
        for query, expected in QUERIES:
            hits = (await client.call_tool("find_memories", {"query": query})).structured_content
            assert hits["hits"][0]["memory"]["id"] == ids[expected], query
            assert hits["hits"][0]["score"] > hits["hits"][1]["score"]


async def test_find_memories_filters_by_type(heph, agent):
    async with heph.client(agent.token) as client:
        await _save_all(client)
        hits = (
            await client.call_tool(
                "find_memories", {"query": "tokens", "type": "warning", "limit": 10}
            )
        ).structured_content["hits"]
    assert [h["memory"]["type"] for h in hits] == ["warning"]


async def test_a_near_identical_memory_is_merged_not_stored_twice(heph, agent):
    text = "The parser assumes a trailing newline; files without one lose their last line."
    async with heph.client(agent.token) as client:
        first = (
            await client.call_tool(
                "save_memory", {"content": text, "type": "discovery", "tags": ["parser"]}
            )
        ).structured_content
        second = (
            await client.call_tool(
                "save_memory",
                {
                    "content": text + " ",
                    "type": "discovery",
                    "tags": ["io"],
                    "files": ["src/parse.py"],
                },
            )
        ).structured_content
        different = (
            await client.call_tool(
                "save_memory",
                {
                    "content": "The HTTP client retries three times with exponential backoff.",
                    "type": "codebase_knowledge",
                },
            )
        ).structured_content
    assert first["merged"] is False and second["merged"] is True
    assert second["memory"]["id"] == first["memory"]["id"]
    assert second["memory"]["tags"] == ["parser", "io"]
    assert second["memory"]["merged_count"] == 1 and second["similarity"] >= 0.95
    assert different["merged"] is False
    assert heph.db().execute("SELECT COUNT(*) FROM memories").fetchone()[0] == 2


async def test_memories_are_scoped_to_the_run_unless_all_runs(heph):
    await heph.start_run(goal="run A")
    await heph.start_run(goal="run B")
    a, b = await heph.launch_agent(), await heph.launch_agent()
    secret = "Run A found that the cache key ignores the locale."
    async with heph.client(a.token) as client:
        await client.call_tool("save_memory", {"content": secret, "type": "discovery"})
    async with heph.user() as user:
        await user.call_tool(
            "save_memory",
            {
                "content": "Project rule: every public function gets a docstring.",
                "type": "decision",
            },
        )
    async with heph.client(b.token) as client:
        own = (
            await client.call_tool("find_memories", {"query": "cache key locale", "limit": 10})
        ).structured_content
        every = (
            await client.call_tool("find_memories", {"query": "cache key locale", "all_runs": True})
        ).structured_content
    assert secret not in [h["memory"]["content"] for h in own["hits"]]
    assert "docstring" in own["hits"][0]["memory"]["content"]
    assert every["hits"][0]["memory"]["content"] == secret


async def test_memories_persist_across_a_server_restart(settings, serve):
    async with serve(settings) as heph, heph.user() as user:
        await user.call_tool(
            "save_memory",
            {"content": "Releases are tagged vX.Y.Z from main only.", "type": "decision"},
        )
    async with serve(settings) as heph, heph.user() as user:
        hits = (
            await user.call_tool("find_memories", {"query": "how do we tag a release?"})
        ).structured_content["hits"]
    assert hits and hits[0]["memory"]["content"] == "Releases are tagged vX.Y.Z from main only."


async def test_learnings_from_a_finished_task_become_memories(heph, agent):
    async with heph.client(agent.token) as client:
        await client.call_tool(
            "update_task_status",
            {
                "status": "done",
                "summary": "fixed",
                "learnings": ["The CI image lacks the locales package; install it in setup."],
            },
        )
        hits = (
            await client.call_tool("find_memories", {"query": "missing locales on CI"})
        ).structured_content["hits"]
    memory = hits[0]["memory"]
    assert memory["type"] == "learning" and memory["task_id"] == agent.task_id


async def test_the_brief_includes_the_most_relevant_memories(heph):
    started = await heph.start_run(goal="the calendar shows the wrong month in January")
    async with heph.user() as user:
        for kind, text in FIXTURE:
            await user.call_tool(
                "save_memory", {"content": text, "type": kind, "run": started["run_id"]}
            )
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as client:
        text = (await client.get_prompt("task_brief")).messages[0].content.text
    section = text.split("## What the swarm already knows")[1]
    first = section.strip().splitlines()[1]
    assert "month index is zero-based" in first


@pytest.mark.parametrize(
    "args,expected",
    [
        ({"content": "", "type": "discovery"}, "content"),
        ({"content": "   ", "type": "discovery"}, "must not be blank"),
        ({"content": "x", "type": "gossip"}, "discovery"),
        ({"content": "x" * (64 * 1024 + 1), "type": "discovery"}, "65536"),
        ({"content": "x", "type": "discovery", "run": "r000000"}, "own run"),
    ],
)
async def test_bad_memory_input_is_refused_and_nothing_is_stored(heph, agent, args, expected):
    async with heph.client(agent.token) as client:
        result = await client.call_tool("save_memory", args, raise_on_error=False)
    assert result.is_error and expected in result.content[0].text
    assert heph.db().execute("SELECT COUNT(*) FROM memories").fetchone()[0] == 0


async def test_a_blank_query_is_refused(heph, agent):
    async with heph.client(agent.token) as client:
        result = await client.call_tool("find_memories", {"query": "  "}, raise_on_error=False)
    assert result.is_error and "must not be blank" in result.content[0].text


async def test_concurrent_identical_saves_store_one_memory(heph, agent):
    import asyncio

    text = "The staging database is reset every night at 02:00 UTC."

    async def save(n: int):
        async with heph.client(agent.token) as client:
            result = await client.call_tool(
                "save_memory", {"content": text, "type": "warning", "tags": [f"t{n}"]}
            )
            return result.structured_content

    results = await asyncio.gather(*(save(n) for n in range(6)))
    assert len({r["memory"]["id"] for r in results}) == 1
    assert sum(not r["merged"] for r in results) == 1
    row = heph.db().execute("SELECT COUNT(*), MAX(merged_count) FROM memories").fetchone()
    assert tuple(row) == (1, 5)
