"""Ticket tools refuse bad input with a clear error and change nothing; runs stay apart."""

from __future__ import annotations

import pytest
from ticketkit import call, kanban_run, refused, ticket

MISSING = "tk00000000"


@pytest.fixture
async def agent(heph):
    await kanban_run(heph)
    return await heph.launch_agent()


@pytest.fixture
async def chain(heph, agent):
    """Tickets a <- b <- c (b blocked by a, c blocked by b) and d, unlinked."""
    async with heph.client(agent.token) as client:
        a = await ticket(client, "Define the data model")
        b = await ticket(client, "Write the storage layer", blocked_by=[a["id"]])
        c = await ticket(client, "Build the API", blocked_by=[b["id"]])
        d = await ticket(client, "Write the docs")
    return {"a": a["id"], "b": b["id"], "c": c["id"], "d": d["id"]}


@pytest.mark.parametrize(
    "tool,args",
    [
        ("get_ticket", {}),
        ("update_ticket", {"title": "new"}),
        ("change_ticket_status", {"status": "doing"}),
        ("add_ticket_comment", {"text": "hello"}),
        ("resolve_ticket", {"resolution": "done"}),
    ],
)
async def test_an_unknown_ticket_is_named_and_nothing_changes(heph, agent, tool, args):
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        error = await refused(client, tool, ticket_id=MISSING, **args)
    assert f"no ticket {MISSING!r}; list_tickets lists the tickets you can see" in error
    assert heph.snapshot() == before


async def test_a_status_that_is_not_a_board_column_lists_the_columns(heph, agent, chain):
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        error = await refused(client, "change_ticket_status", ticket_id=chain["a"], status="done")
    assert error == (
        "status 'done' is not a column of workflow 'kanban''s board;"
        " columns are: triage, doing, review, shipped"
    )
    assert heph.snapshot() == before


@pytest.mark.parametrize(
    "ticket_key,blocked_by,path",
    [
        ("a", ["b"], "aba"),
        ("a", ["c"], "acba"),
        ("a", ["d", "c"], "acba"),
        ("d", ["d"], "dd"),
    ],
)
async def test_a_blocker_cycle_is_refused_with_its_path(
    heph, agent, chain, ticket_key, blocked_by, path
):
    before = heph.snapshot()
    shown = " -> ".join(chain[key] for key in path)
    async with heph.client(agent.token) as client:
        error = await refused(
            client,
            "update_ticket",
            ticket_id=chain[ticket_key],
            blocked_by=[chain[k] for k in blocked_by],
            title="renamed with the cycle",
        )
    assert f"blocked_by would make a cycle: {shown} (each blocked by the next)" in error
    assert heph.snapshot() == before


async def test_unknown_and_other_runs_blockers_are_refused(heph, agent, chain):
    other = await kanban_run(heph, goal="another run")
    async with heph.user() as user:
        foreign = await ticket(user, "Someone else's ticket", run=other)
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        unknown = await refused(
            client, "create_ticket", title="x", description="y", blocked_by=[MISSING]
        )
        crossed = await refused(
            client, "update_ticket", ticket_id=chain["d"], blocked_by=[foreign["id"]]
        )
    assert f"blocked_by names tickets not in run {agent.run_id}: ['{MISSING}']" in unknown
    assert f"blocked_by names tickets not in run {agent.run_id}: ['{foreign['id']}']" in crossed
    assert heph.snapshot() == before


async def test_create_task_refuses_a_ticket_of_another_run(heph, agent):
    other = await kanban_run(heph, goal="another run")
    async with heph.user() as user:
        foreign = await ticket(user, "Someone else's ticket", run=other)
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        error = await refused(
            client, "create_task", phase=2, title="x", description="y", ticket_id=foreign["id"]
        )
    assert f"ticket_id {foreign['id']!r} is not a ticket of run {agent.run_id}" in error
    assert heph.snapshot() == before


async def test_an_agent_cannot_see_or_touch_another_runs_tickets(heph, agent):
    other = await kanban_run(heph, goal="another run")
    async with heph.user() as user:
        foreign = (await ticket(user, "Someone else's ticket", run=other))["id"]
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        errors = [
            await refused(client, "get_ticket", ticket_id=foreign),
            await refused(client, "update_ticket", ticket_id=foreign, title="mine now"),
            await refused(client, "change_ticket_status", ticket_id=foreign, status="doing"),
            await refused(client, "add_ticket_comment", ticket_id=foreign, text="hi"),
            await refused(client, "resolve_ticket", ticket_id=foreign, resolution="done"),
        ]
        listed = await refused(client, "list_tickets", run=other)
        searched = await refused(client, "search_tickets", query="else", run=other)
        mine = await call(client, "list_tickets")
    assert all(f"no ticket {foreign!r}" in e for e in errors)
    assert f"agents see tickets only in their own run ({agent.run_id})" in listed
    assert f"agents see tickets only in their own run ({agent.run_id})" in searched
    assert mine["tickets"] == []
    assert heph.snapshot() == before


@pytest.mark.parametrize(
    "tool,args",
    [
        ("create_ticket", {"title": "t", "description": "d"}),
        ("update_ticket", {"ticket_id": MISSING, "title": "t"}),
        ("change_ticket_status", {"ticket_id": MISSING, "status": "todo"}),
        ("add_ticket_comment", {"ticket_id": MISSING, "text": "t"}),
        ("get_ticket", {"ticket_id": MISSING}),
        ("list_tickets", {}),
        ("search_tickets", {"query": "crash"}),
        ("resolve_ticket", {"ticket_id": MISSING, "resolution": "r"}),
        ("create_task", {"phase": 2, "title": "t", "description": "d", "ticket_id": MISSING}),
    ],
)
async def test_every_ticket_tool_says_tickets_are_off_when_the_workflow_has_none(heph, tool, args):
    await heph.start_run("bug_fix")
    agent = await heph.launch_agent()
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        error = await refused(client, tool, **args)
    assert f"tickets are off for workflow 'bug_fix' (run {agent.run_id})" in error
    assert heph.snapshot() == before


async def test_the_user_gets_the_same_answer_for_a_run_without_tickets(heph):
    run = (await heph.start_run("bug_fix"))["run_id"]
    async with heph.user() as user:
        error = await refused(user, "list_tickets", run=run)
    assert "tickets are off for workflow 'bug_fix'" in error


async def test_the_schema_refuses_an_unknown_ticket_type_and_blank_text(heph, agent):
    before = heph.snapshot()
    async with heph.client(agent.token) as client:
        kind = await refused(client, "create_ticket", title="t", description="d", type="epic")
        blank = await refused(client, "create_ticket", title="  ", description="d")
        empty = await refused(client, "add_ticket_comment", ticket_id=MISSING, text="")
    assert "type" in kind and "blank" in blank and "text" in empty
    assert heph.snapshot() == before
