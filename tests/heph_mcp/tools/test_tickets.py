"""Ticket tools: a run's kanban board, its history, hybrid search, and work held by blockers."""

from __future__ import annotations

import asyncio
import json

import pytest
from mcp.client.subscriptions import listen
from ticketkit import COLUMNS, call, kanban_run, refused, ticket

from heph_mcp.notify import QUEUE_URI


@pytest.fixture
async def agent(heph):
    await kanban_run(heph)
    return await heph.launch_agent()


async def test_a_new_ticket_starts_in_the_first_column_of_the_workflows_board(heph, agent):
    async with heph.client(agent.token) as client:
        made = await ticket(
            client, "Importer drops rows", type="bug", priority="high", tags=["csv", "import"]
        )
    assert made["id"].startswith("tk") and made["run_id"] == agent.run_id
    assert (made["status"], made["type"], made["priority"]) == ("triage", "bug", "high")
    assert made["created_by"] == agent.agent_id and made["tags"] == ["csv", "import"]
    assert (made["resolved"], made["blocked"], made["blocked_by"]) == (False, False, [])
    assert [(h["field"], h["new"]) for h in made["history"]] == [("created", "Importer drops rows")]


async def test_the_user_names_the_run_and_an_agent_needs_not(heph):
    run = await kanban_run(heph)
    async with heph.user() as user:
        made = await ticket(user, "Write the user guide", run=run, type="feature")
        missing = await refused(user, "create_ticket", title="x", description="y")
    assert made["run_id"] == run and made["created_by"] == "user"
    assert "`run` is required" in missing


async def test_update_ticket_changes_only_the_given_fields_and_records_each_in_history(heph, agent):
    async with heph.client(agent.token) as client:
        made = await ticket(client, "Importer drops rows", description="first words")
        same = await call(
            client, "update_ticket", ticket_id=made["id"], title="Importer drops rows"
        )
        updated = await call(
            client,
            "update_ticket",
            ticket_id=made["id"],
            priority="critical",
            assignee="alice",
            tags=["csv"],
        )
        cleared = await call(client, "update_ticket", ticket_id=made["id"], assignee="")
    assert same["history"] == made["history"]  # nothing changed, nothing recorded
    assert (updated["priority"], updated["assignee"], updated["tags"]) == (
        "critical",
        "alice",
        ["csv"],
    )
    assert updated["description"] == "first words" and updated["title"] == "Importer drops rows"
    changes = [(h["field"], h["old"], h["new"], h["actor"]) for h in cleared["history"][1:]]
    assert changes == [
        ("priority", "medium", "critical", agent.agent_id),
        ("assignee", None, "alice", agent.agent_id),
        ("tags", "[]", '["csv"]', agent.agent_id),
        ("assignee", "alice", None, agent.agent_id),
    ]
    assert cleared["assignee"] is None and all(h["at"] for h in cleared["history"])


async def test_status_moves_between_board_columns_with_history(heph, agent):
    async with heph.client(agent.token) as client:
        made = await ticket(client, "Importer drops rows")
        await call(client, "change_ticket_status", ticket_id=made["id"], status="doing")
        moved = await call(client, "change_ticket_status", ticket_id=made["id"], status="review")
    assert moved["status"] == "review"
    assert [(h["field"], h["old"], h["new"]) for h in moved["history"][1:]] == [
        ("status", "triage", "doing"),
        ("status", "doing", "review"),
    ]


async def test_comments_are_kept_in_order_with_their_author(heph, agent):
    run = agent.run_id
    async with heph.client(agent.token) as client:
        made = await ticket(client, "Importer drops rows")
        await call(client, "add_ticket_comment", ticket_id=made["id"], text="seen on big files")
    async with heph.user() as user:
        seen = await call(user, "add_ticket_comment", ticket_id=made["id"], text="thanks")
        found = await call(user, "search_tickets", query="big files", run=run)
    assert [(c["author"], c["text"]) for c in seen["comments"]] == [
        (agent.agent_id, "seen on big files"),
        ("user", "thanks"),
    ]
    assert found["hits"][0]["ticket"]["id"] == made["id"]  # comments are searchable words


async def test_list_tickets_filters_by_every_field(heph, agent):
    async with heph.client(agent.token) as client:
        bug = await ticket(client, "Crash on empty file", type="bug", priority="high")
        feat = await ticket(client, "Export to JSON", type="feature", assignee="bob")
        later = await ticket(client, "Export to XML", type="feature", blocked_by=[feat["id"]])
        await call(client, "change_ticket_status", ticket_id=feat["id"], status="doing")
        await call(client, "resolve_ticket", ticket_id=bug["id"], resolution="fixed in abc")

        async def ids(**filters):
            listed = await call(client, "list_tickets", **filters)
            return [t["id"] for t in listed["tickets"]]

        assert await ids() == [bug["id"], feat["id"], later["id"]]
        assert await ids(type="feature") == [feat["id"], later["id"]]
        assert await ids(priority="high") == [bug["id"]]
        assert await ids(assignee="bob") == [feat["id"]]
        assert await ids(status="doing") == [feat["id"]]
        assert await ids(status="shipped") == [bug["id"]]
        assert await ids(blocked=True) == [later["id"]]
        assert await ids(blocked=False) == [bug["id"], feat["id"]]
        assert await ids(resolved=True) == [bug["id"]]
        assert await ids(resolved=False, type="feature") == [feat["id"], later["id"]]
        assert await ids(limit=1) == [bug["id"]]


HAYSTACK = [
    ("Importer crashes on CSV files with a BOM", "A byte order mark breaks parse_header()."),
    ("Session cookie expires too early", "After five minutes the token is dropped; sign in again."),
    ("Add dark mode to the settings page", "Offer a dark colour scheme toggle."),
    ("Slow monthly report", "Report generation fails with E4012 after the query times out."),
]


async def test_hybrid_search_finds_an_exact_code_by_keyword_and_a_paraphrase_by_meaning(
    heph, agent
):
    async with heph.client(agent.token) as client:
        made = [await ticket(client, t, description=d) for t, d in HAYSTACK]
        code = (await call(client, "search_tickets", query="E4012"))["hits"]
        meaning = (await call(client, "search_tickets", query="users get logged off unexpectedly"))[
            "hits"
        ]
    assert code[0]["ticket"]["id"] == made[3]["id"] and code[0]["keyword_rank"] == 1
    assert all(h["keyword_rank"] is None for h in code[1:])
    assert meaning[0]["ticket"]["id"] == made[1]["id"]
    assert meaning[0]["keyword_rank"] is None and meaning[0]["semantic_rank"] == 1
    assert meaning[0]["score"] == pytest.approx(1 / 61, abs=1e-6)


async def test_a_task_of_a_blocked_ticket_waits_until_every_blocker_resolves(heph, agent):
    async with heph.client(agent.token) as client:
        first = await ticket(client, "Define the data model")
        second = await ticket(client, "Write the storage layer")
        third = await ticket(client, "Build the API", blocked_by=[first["id"], second["id"]])
        task = await call(
            client,
            "create_task",
            phase=2,
            title="Implement the REST endpoints",
            description="GET and POST /items",
            ticket_id=third["id"],
        )
        assert (task["status"], task["ticket_id"]) == ("blocked", third["id"])
        await call(client, "resolve_ticket", ticket_id=first["id"], resolution="model.py")
        still = await call(client, "get_task", task_id=task["id"])
        resolved = await call(client, "resolve_ticket", ticket_id=second["id"], resolution="ok")
        after = await call(client, "get_task", task_id=task["id"])
        view = await call(client, "get_ticket", ticket_id=third["id"])
    assert still["status"] == "blocked" and after["status"] == "queued"
    assert resolved["status"] == COLUMNS[-1] and resolved["resolved"]
    assert resolved["resolution"] == "ok" and resolved["resolved_by"] == agent.agent_id
    assert (view["blocked"], view["tasks"][0]["id"]) == (False, task["id"])
    with heph.db() as db:
        kinds = [
            r[0] for r in db.execute("SELECT kind FROM events WHERE task_id = ?", (task["id"],))
        ]
    assert kinds == ["task_created", "task_unblocked"]


async def test_a_blocker_added_later_holds_back_queued_work_and_removing_it_releases_it(
    heph, agent
):
    async with heph.client(agent.token) as client:
        first = await ticket(client, "Define the data model")
        second = await ticket(client, "Build the API")
        task = await call(
            client, "create_task", phase=2, title="Endpoints", description="REST",
            ticket_id=second["id"],
        )  # fmt: skip
        await call(client, "update_ticket", ticket_id=second["id"], blocked_by=[first["id"]])
        held = await call(client, "get_task", task_id=task["id"])
        unblocked = await call(client, "update_ticket", ticket_id=second["id"], blocked_by=[])
        released = await call(client, "get_task", task_id=task["id"])
    assert (task["status"], held["status"], released["status"]) == ("queued", "blocked", "queued")
    history = [(h["field"], h["old"], h["new"]) for h in unblocked["history"][1:]]
    assert history == [
        ("blocked_by", "[]", json.dumps([first["id"]])),
        ("blocked_by", json.dumps([first["id"]]), "[]"),
    ]
    assert first["id"] not in unblocked["blocked_by"]


async def test_a_ticket_resolves_itself_when_its_last_open_task_is_done(heph):
    run = await kanban_run(heph)
    async with heph.user() as user:
        made = await ticket(user, "Importer drops rows", run=run)
        work = [
            ("Reproduce the row loss", "Write a failing test that imports a 10k-line CSV."),
            ("Patch the parser", "Handle the trailing delimiter in parse.py."),
        ]
        for title, description in work:
            created = await call(
                user, "create_task", run=run, phase=2, title=title, description=description,
                ticket_id=made["id"], priority="critical",
            )  # fmt: skip
            assert created["status"] == "queued"
    first, second = await heph.launch_agent(), await heph.launch_agent()
    async with heph.client(first.token) as client:
        await call(client, "update_task_status", status="done", summary="reproduced")
        midway = await call(client, "get_ticket", ticket_id=made["id"])
    async with heph.client(second.token) as client:
        await call(client, "update_task_status", status="done", summary="fixed in parse.py")
        final = await call(client, "get_ticket", ticket_id=made["id"])
    assert not midway["resolved"]
    assert final["resolved"] and final["status"] == "shipped"
    assert final["resolution"] == f"task {second.task_id} done: fixed in parse.py"
    assert {t["id"] for t in final["tasks"]} == {first.task_id, second.task_id}


COMMIT = "c0ffee" + "0" * 34


async def test_merge_commits_of_a_tickets_tasks_show_on_the_ticket(heph):
    run = await kanban_run(heph)
    async with heph.user() as user:
        made = await ticket(user, "Importer drops rows", run=run)
        await call(
            user, "create_task", run=run, phase=2, title="Fix the row loss",
            description="parse.py", ticket_id=made["id"], priority="critical",
        )  # fmt: skip
    worker = await heph.launch_agent()
    async with heph.client(worker.token) as client:
        await call(client, "update_task_status", status="done", summary="fixed")
    async with heph.ops() as ops:
        await call(ops, "record_merge", task_id=worker.task_id, state="merged", commit=COMMIT)
    async with heph.user() as user:
        view = await call(user, "get_ticket", ticket_id=made["id"])
    assert view["commits"] == [{"task_id": worker.task_id, "commit": COMMIT}]
    assert view["tasks"] == [
        {"id": worker.task_id, "title": "Fix the row loss", "phase": 2, "status": "done"}
    ]


async def test_a_resolved_ticket_keeps_its_column_and_resolves_once(heph, agent):
    async with heph.client(agent.token) as client:
        made = await ticket(client, "Importer drops rows")
        await call(client, "resolve_ticket", ticket_id=made["id"], resolution="fixed")
        again = await refused(client, "resolve_ticket", ticket_id=made["id"], resolution="x")
        moved = await refused(client, "change_ticket_status", ticket_id=made["id"], status="doing")
    assert "already resolved: fixed" in again
    assert "is resolved (fixed); its status stays 'shipped'" in moved


async def test_the_runs_tickets_are_a_resource(heph, agent):
    async with heph.client(agent.token) as client:
        made = await ticket(client, "Importer drops rows")
        contents = await client.read_resource(f"heph://runs/{agent.run_id}/tickets")
    listed = json.loads(contents[0].text)["tickets"]
    assert [t["id"] for t in listed] == [made["id"]]


async def test_the_brief_of_a_tickets_task_names_the_ticket_and_the_ticket_tools(heph):
    run = await kanban_run(heph)
    async with heph.user() as user:
        made = await ticket(user, "Importer drops rows", run=run)
        await call(
            user, "create_task", run=run, phase=2, title="Patch the parser",
            description="parse.py", ticket_id=made["id"], priority="critical",
        )  # fmt: skip
    worker = await heph.launch_agent()
    async with heph.client(worker.token) as client:
        text = (await client.get_prompt("task_brief")).messages[0].content.text
    assert f"Ticket: {made['id']}" in text
    assert "board with the columns triage, doing, review, shipped" in text
    assert "resolve_ticket(ticket_id, resolution)" in text


async def test_the_launcher_hears_at_once_when_resolving_a_ticket_releases_work(heph, agent):
    async with heph.client(agent.token) as client:
        first = await ticket(client, "Define the data model")
        second = await ticket(client, "Build the API", blocked_by=[first["id"]])
        await call(
            client, "create_task", phase=2, title="Endpoints", description="REST",
            ticket_id=second["id"],
        )  # fmt: skip
        async with heph.ops() as ops:
            async with listen(ops.session, resource_subscriptions=[QUEUE_URI]) as subscription:
                await call(client, "resolve_ticket", ticket_id=first["id"], resolution="done")
                event = await asyncio.wait_for(anext(aiter(subscription)), timeout=10)
            queue = json.loads((await ops.read_resource(QUEUE_URI))[0].text)
    assert event.uri == QUEUE_URI
    assert queue.get("queued") == 1 and "blocked" not in queue
