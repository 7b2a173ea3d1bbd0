"""The board over HTTP against the real app: who may look, what the API says, the live feed."""

from __future__ import annotations

import asyncio
import json
import logging
import re

from ticketkit import COLUMNS, call, kanban_run, ticket

from heph_mcp.board.auth import COOKIE, RedactTokens
from heph_mcp.board.routes import STATIC, SharedSnapshot
from heph_mcp.board.sse import Streams, snapshot_events
from heph_mcp.identity import local_token

MARKUP_SINKS = r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write"
GUARDED = (
    "/",
    "/board/api/snapshot",
    "/board/api/memories?q=parser",
    "/board/events",
    "/board/api/tasks/t1",
)


def _user(heph) -> dict[str, str]:
    return {"Authorization": f"Bearer {local_token(heph.settings.secrets_dir, 'user')}"}


async def test_without_a_token_every_board_route_answers_401_saying_how_to_get_the_link(heph):
    async with heph.server.http_client() as http:
        for path in GUARDED:
            response = await http.get(path)
            assert response.status_code == 401, path
            assert "heph up" in response.text and "heph board-link" in response.text
        unknown = await http.get("/", headers={"Authorization": "Bearer heph_user_forged"})
        assert unknown.status_code == 401 and "unknown" in unknown.text
        assert (await http.get("/?token=heph_user_forged")).status_code == 401


async def test_agent_and_ops_tokens_are_refused(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    ops = local_token(heph.settings.secrets_dir, "ops")
    async with heph.server.http_client() as http:
        for token in (agent.token, ops):
            for path in GUARDED:
                response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 403, (path, response.text)
            assert (await http.get(f"/?token={token}")).status_code == 403


async def test_the_login_link_sets_a_strict_httponly_cookie_and_drops_the_token_from_the_url(heph):
    token = local_token(heph.settings.secrets_dir, "user")
    async with heph.server.http_client() as http:
        login = await http.get(f"/?token={token}")
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        page = await http.get("/", headers={"Cookie": f"{COOKIE}={login.cookies[COOKIE]}"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert token not in page.text
    assert '<div id="kanban"' in page.text


async def test_the_board_is_read_only(heph):
    async with heph.server.http_client(headers=_user(heph)) as http:
        for path in ("/", "/board/api/snapshot", "/board/api/memories", "/board/events"):
            for method in ("POST", "PUT", "DELETE"):
                # 405, or 404 where the path falls through to the MCP app's catch-all mount.
                assert (await http.request(method, path)).status_code in (404, 405), path
        assert (await http.get("/board/static/board.js")).status_code == 200


async def test_the_snapshot_puts_each_task_in_its_status_column(heph, fixture_run):
    async with heph.server.http_client(headers=_user(heph)) as http:
        response = await http.get("/board/api/snapshot")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    (run,) = response.json()["runs"]
    assert run["run"]["id"] == fixture_run.run_id and run["board"]["kind"] == "tasks"
    columns = {c["key"]: {t["id"] for t in c["tasks"]} for c in run["board"]["columns"]}
    assert columns["running"] == {fixture_run.running}
    missing = [w["task_id"] for w in run["merges"]["missing"]]
    assert missing == [fixture_run.done] and run["merges"]["queue"] == []
    assert columns["done"] == {fixture_run.done, fixture_run.validator}
    assert columns["queued"] == {fixture_run.discovery, fixture_run.markup}
    assert columns["blocked"] == {fixture_run.blocked}
    assert columns["failed"] == {fixture_run.failed}
    assert list(columns) == [
        "queued", "blocked", "running", "validating", "needs_work", "done", "failed", "duplicate",
    ]  # fmt: skip


async def test_the_graph_shows_who_spawned_what_and_marks_discovery_branches(heph, fixture_run):
    async with heph.server.http_client(headers=_user(heph)) as http:
        (run,) = (await http.get("/board/api/snapshot")).json()["runs"]
    nodes = {n["id"]: n for n in run["graph"]["nodes"]}
    assert nodes[fixture_run.done]["parent"] == fixture_run.running
    assert nodes[fixture_run.discovery]["parent"] == fixture_run.done
    assert [n for n, node in nodes.items() if node["discovery"]] == [fixture_run.discovery]
    edges = {(e["from"], e["to"]): e for e in run["graph"]["edges"]}
    assert not edges[(fixture_run.running, fixture_run.done)]["discovery"]
    assert edges[(fixture_run.done, fixture_run.discovery)]["discovery"]
    assert edges[(fixture_run.discovery, fixture_run.blocked)]["dependency"]


async def test_agents_carry_their_guardian_note_and_the_run_its_steering(heph, fixture_run):
    async with heph.server.http_client(headers=_user(heph)) as http:
        snapshot = (await http.get("/board/api/snapshot")).json()
    (run,) = snapshot["runs"]
    (agent,) = run["agents"]
    assert agent["id"] == fixture_run.agent_id and agent["task_id"] == fixture_run.running
    assert agent["guardian"]["state"] == "looping"
    assert agent["guardian"]["summary"] == "the same pytest failure four times"
    assert run["steers"][0]["text"] == "Stop retrying the same fix; read the traceback."
    assert snapshot["queue"]["counts"] == {"queued": 2, "blocked": 1, "running": 1}
    assert [t["id"] for t in snapshot["queue"]["next"]] == [
        fixture_run.discovery,
        fixture_run.markup,
    ]


async def test_memory_search_goes_through_the_memory_service(heph, fixture_run):
    async with heph.user() as user:
        await user.call_tool(
            "save_memory",
            {
                "content": "tokenize() assumes a non-empty buffer",
                "type": "codebase_knowledge",
                "run": fixture_run.run_id,
            },
        )
    async with heph.server.http_client(headers=_user(heph)) as http:
        found = await http.get(
            "/board/api/memories", params={"q": "empty buffer tokenizer", "run": fixture_run.run_id}
        )
        blank = await http.get("/board/api/memories", params={"q": "  "})
    assert found.status_code == 200
    hits = found.json()["hits"]
    assert hits[0]["memory"]["content"] == "tokenize() assumes a non-empty buffer"
    assert blank.status_code == 400 and "blank" in blank.json()["error"]


async def test_the_event_stream_sends_a_snapshot_at_once_and_another_after_a_change(
    heph, fixture_run
):
    async with (
        heph.server.http_client(headers=_user(heph)) as http,
        http.stream("GET", "/board/events") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream.aiter_lines())
        first = await asyncio.wait_for(anext(events), 10)
        assert _status_of(first, fixture_run.discovery) == "queued"
        claimed = await heph.launch_agent()  # the launcher takes the oldest low-priority task
        assert claimed.task_id == fixture_run.discovery
        # Claiming and starting the agent are two commits: a snapshot may show either.
        seen = [_status_of(await asyncio.wait_for(anext(events), 10), fixture_run.discovery)]
        while seen[-1] == "claimed":
            seen.append(
                _status_of(await asyncio.wait_for(anext(events), 10), fixture_run.discovery)
            )
        assert seen[-1] == "running" and set(seen) <= {"claimed", "running"}


async def _events(lines):
    """Yield each `snapshot` event's data, parsed."""
    name = None
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name == "snapshot":
            yield json.loads(line.removeprefix("data: "))


def _status_of(snapshot: dict, task_id: str) -> str:
    (run,) = snapshot["runs"]
    return next(n["status"] for n in run["graph"]["nodes"] if n["id"] == task_id)


async def test_streams_send_heartbeats_when_quiet_and_end_when_the_server_stops():
    streams = Streams()

    async def snapshot() -> dict:
        return {"runs": []}

    events = snapshot_events(snapshot, lambda: 0, streams, poll=0.01, heartbeat=0.05)
    assert (await anext(events)).startswith("event: snapshot\ndata: {")
    assert await asyncio.wait_for(anext(events), 5) == ": ping\n\n"
    streams.stop()
    rest = [event async for event in events]
    assert all(event == ": ping\n\n" for event in rest)


async def test_a_changed_store_that_leaves_the_snapshot_alike_sends_nothing():
    counter = {"n": 0}

    async def snapshot() -> dict:
        counter["n"] += 1
        return {"same": True}

    streams = Streams()
    events = snapshot_events(snapshot, lambda: counter["n"], streams, poll=0.01, heartbeat=0.2)
    await anext(events)
    assert await asyncio.wait_for(anext(events), 5) == ": ping\n\n"
    assert counter["n"] > 2  # rebuilt after each change, sent only when different


async def test_every_open_page_shares_one_snapshot_per_store_change():
    shared, builds, changes = SharedSnapshot(), [], {"n": 0}

    async def build() -> dict:
        builds.append(changes["n"])
        await asyncio.sleep(0.01)  # the pages ask while it is being built
        return {"built_at": changes["n"]}

    pages = [shared.get(lambda: changes["n"], build) for _ in range(10)]
    first = await asyncio.gather(*pages)
    changes["n"] += 1
    after = await asyncio.gather(*(shared.get(lambda: changes["n"], build) for _ in range(10)))
    assert builds == [0, 1]
    assert all(s == {"built_at": 0} for s in first) and all(s == {"built_at": 1} for s in after)


async def test_a_ticket_workflow_shows_its_tickets_in_the_boards_own_columns(heph):
    run = await kanban_run(heph)
    async with heph.user() as user:
        first = await ticket(user, "Parse the CSV header", run=run)
        second = await ticket(user, "Import the rows", run=run, blocked_by=[first["id"]])
        await call(user, "change_ticket_status", ticket_id=first["id"], status="doing")
    async with heph.server.http_client(headers=_user(heph)) as http:
        (view,) = (await http.get("/board/api/snapshot")).json()["runs"]
    columns = {c["key"]: [t["id"] for t in c["tasks"]] for c in view["board"]["columns"]}
    cards = {t["id"]: t for c in view["board"]["columns"] for t in c["tasks"]}
    assert view["board"]["kind"] == "tickets" and list(columns) == COLUMNS
    assert columns["triage"] == [second["id"]] and columns["doing"] == [first["id"]]
    assert cards[second["id"]]["blocked"] and not cards[first["id"]]["blocked"]


def test_the_access_log_never_shows_the_login_token():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/?token=heph_user_secret&x=1", "1.1", 303), None,
    )  # fmt: skip
    RedactTokens().filter(record)
    assert "heph_user_secret" not in record.getMessage()
    assert "token=[redacted]&x=1" in record.getMessage()


def test_the_page_loads_nothing_from_outside_the_package():
    for asset in STATIC.rglob("*"):
        if asset.is_file() and asset.suffix in (".html", ".js", ".css"):
            text = asset.read_text()
            outside = re.findall(r"https?://[^\s\"')]+", text)
            assert outside in ([], ["http://www.w3.org/2000/svg"]), (asset, outside)
            assert not re.search(MARKUP_SINKS, text), asset


async def test_a_ticket_run_without_tickets_shows_its_tasks_rather_than_empty_columns(heph):
    run = await kanban_run(heph)
    async with heph.user() as user:
        (task,) = (await call(user, "get_tasks", run=run))["tasks"]
    async with heph.server.http_client(headers=_user(heph)) as http:
        (view,) = (await http.get("/board/api/snapshot")).json()["runs"]
    columns = {c["key"]: [t["id"] for t in c["tasks"]] for c in view["board"]["columns"]}
    assert view["board"]["kind"] == "tasks" and columns["queued"] == [task["id"]]


async def test_a_task_detail_is_served_to_the_user_and_an_unknown_task_is_a_clear_404(
    heph, fixture_run
):
    async with heph.server.http_client(headers=_user(heph)) as http:
        detail = (await http.get(f"/board/api/tasks/{fixture_run.done}")).json()
        missing = await http.get("/board/api/tasks/t-none")
    assert detail["task"]["summary"] == "length check added"
    assert detail["task"]["merge_state"] is None and "brief" in detail
    assert missing.status_code == 404 and "no task 't-none'" in missing.json()["error"]


async def test_the_event_stream_carries_changed_pane_tails_without_resending_the_snapshot(
    heph, fixture_run
):
    async with (
        heph.server.http_client(headers=_user(heph)) as http,
        http.stream("GET", "/board/events") as stream,
    ):
        events = _named_events(stream.aiter_lines())
        assert (await asyncio.wait_for(anext(events), 10))[0] == "snapshot"
        for text in ("collecting tests", "3 passed"):
            async with heph.ops() as ops:
                await call(ops, "report_live_view",
                           tails=[{"agent_id": fixture_run.agent_id, "text": text}])  # fmt: skip
            name, data = await asyncio.wait_for(anext(events), 10)
            assert name == "panes", name  # the store did not move: no snapshot
            (tail,) = data["tails"]
            assert tail["agent_id"] == fixture_run.agent_id
            assert tail["text"] == text


async def _named_events(lines):
    """Yield (event name, parsed data) for every event."""
    name = None
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))
