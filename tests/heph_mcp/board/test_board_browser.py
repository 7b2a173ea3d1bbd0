"""The board in a real browser: Debian's headless Chromium driven by Playwright.

The fixture run is served by uvicorn on a free loopback port (real HTTP, real
SQLite); the test changes a task through the MCP tools and waits, polling the
DOM with a bounded timeout, for the page to move it. A screenshot is left in
the test's artifacts folder.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright
from swarmkit import make_project, running_swarm, scripted, swarm_settings

from heph_mcp.board import board_link
from heph_mcp.settings import Settings
from testkit import artifacts_dir, serving_here

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# What works here as root on a machine without a network (see the env notes).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SETTLE_MS = 8000  # bounded waits: a change must show within a few seconds
DIALOG_LABEL = "blocked on dialog (approval): This command requires approval · python3 -c 'x'"


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: `bash .ci/setup --dev` installs it (apt-get chromium)")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1100},
        )
        try:
            yield context  # type: ignore[misc]
        finally:
            await context.close()


def _link(settings: Settings, origin: str) -> str:
    return origin + "/" + board_link(settings).split("/", 3)[3]


async def test_the_board_shows_the_run_and_follows_a_task_live(heph, fixture_run, browser, request):
    folder = artifacts_dir(request)
    alerts: list[str] = []
    async with serving_here(heph.server.app) as origin:
        page: Page = browser.pages[0] if browser.pages else await browser.new_page()
        page.on("dialog", lambda dialog: alerts.append(dialog.message))
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        refused = await page.goto(origin + "/")
        assert refused is not None and refused.status == 401
        assert "heph up" in await page.inner_text("body")

        await page.goto(_link(heph.settings, origin))
        assert page.url == origin + "/", "the token must leave the address bar"
        (cookie,) = await browser.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        column = "[data-column={}] [data-task-id={}]"
        for key, task in (
            ("running", fixture_run.running),
            ("done", fixture_run.done),
            ("queued", fixture_run.discovery),
            ("queued", fixture_run.markup),
            ("blocked", fixture_run.blocked),
            ("failed", fixture_run.failed),
        ):
            await page.wait_for_selector(column.format(key, task), timeout=SETTLE_MS)
        assert await page.get_attribute("#live", "data-state") == "live"

        markup = page.locator(column.format("queued", fixture_run.markup) + " .card-title")
        assert await markup.inner_text() == fixture_run.markup_title
        assert await page.locator("#kanban img").count() == 0

        discovery = page.locator(f"#graph g.node.discovery[data-task-id={fixture_run.discovery}]")
        assert await discovery.count() == 1
        assert await page.locator("#graph path.edge.discovery").count() == 1
        agent_id = fixture_run.agent_id
        agent = page.locator(f"[data-agent-id={agent_id}]")
        assert "looping" in await agent.inner_text()
        assert "the same pytest failure four times" in await agent.inner_text()

        async with heph.user() as user:
            await user.call_tool(
                "save_memory",
                {"content": "tokenize() assumes a non-empty buffer", "type": "codebase_knowledge",
                 "run": fixture_run.run_id},
            )  # fmt: skip
        await page.fill("#memory-query", "what does the tokenizer assume")
        await page.click("#memory-form button")
        hit = page.locator("#memory-results .memory-content").first
        await hit.wait_for(timeout=SETTLE_MS)
        assert await hit.inner_text() == "tokenize() assumes a non-empty buffer"

        claimed = await heph.launch_agent()  # the launcher takes the discovery task
        assert claimed.task_id == fixture_run.discovery
        moved = column.format("running", fixture_run.discovery) + "[data-status=running]"
        await page.wait_for_selector(moved, timeout=SETTLE_MS)
        assert await page.locator(column.format("queued", fixture_run.discovery)).count() == 0

        async with heph.ops() as ops:  # the Guardian sees the agent held by a dialog
            await ops.call_tool(
                "record_analysis",
                {"agent_id": fixture_run.agent_id, "judge": "heuristic",
                 "state": "blocked_on_dialog", "alignment": 0.5, "summary": DIALOG_LABEL},
            )  # fmt: skip
        blocked = page.locator(f".agent.guardian-blocked_on_dialog[data-agent-id={agent_id}]")
        await blocked.wait_for(timeout=SETTLE_MS)
        assert " ".join((await blocked.locator(".guardian").inner_text()).split()).startswith(
            f"needs you: {DIALOG_LABEL}"
        )
        async with heph.ops() as ops:  # the launcher queues the done fix for merging
            await ops.call_tool("record_merge", {"task_id": fixture_run.done, "state": "queued"})
            await ops.call_tool("record_merge", {"task_id": fixture_run.done, "state": "verifying"})
        queued = f"#merges [data-task-id={fixture_run.done}][data-merge=verifying]"
        await page.wait_for_selector(queued, timeout=SETTLE_MS)
        # The card's badge and the queue list are drawn from queries of their own: wait for
        # the card too rather than read it once.
        badge = page.locator(column.format("done", fixture_run.done) + " .merge")
        await badge.filter(has_text="merge: verifying").wait_for(timeout=SETTLE_MS)
        assert await badge.inner_text() == "merge: verifying"

        async with heph.ops() as ops:  # the agent's transcript shows its first messages
            await ops.call_tool("record_usage", {"agent_id": fixture_run.agent_id, "entries": [
                {"key": "m1", "model": "claude-sonnet-4-5", "input_tokens": 1200,
                 "output_tokens": 34, "cache_read_tokens": 5000},
            ]})  # fmt: skip
        cost = page.locator("#cost .cost-figure")
        await cost.filter(has_text="6,234 tokens").wait_for(timeout=SETTLE_MS)
        assert await cost.inner_text() == "6,234 tokens · ~$0.01"

        await page.screenshot(path=str(folder / "board.png"), full_page=True)

        other = await heph.start_run(goal="the README lists the wrong flags")
        option = f"#run-select option[value={other['run_id']}]"
        await page.wait_for_selector(option, state="attached", timeout=SETTLE_MS)
        # A new run does not take the view away from the run being watched...
        assert await page.locator(column.format("done", fixture_run.done)).count() == 1
        # ...the run picker switches to it.
        await page.select_option("#run-select", other["run_id"])
        await page.wait_for_selector(column.format("queued", other["task_id"]), timeout=SETTLE_MS)
    assert alerts == [] and errors == []


async def test_a_task_card_opens_its_detail_and_a_running_agents_pane_follows_it_live(
    tmp_path, embedder, browser, request
):
    """A real launcher runs a scripted agent in tmux; its pane reaches the page over the
    event stream, and the page never reloads."""
    settings = swarm_settings(make_project(tmp_path), pane_tail_interval=0.3, diffstat_interval=0.5)
    async with running_swarm(settings, embedder) as swarm:
        first, second = swarm.exchange / "first-seen", swarm.exchange / "finish"
        goal = scripted(
            "Write the parser and say how far it got.",
            {"write": "parser.py", "text": "def parse():\n    return 1\n"},
            {"commit": "parser"},
            {"run": ["echo", "pane-line-one"]},
            {"wait_file": str(first)},
            {"run": ["echo", "pane-line-two"]},
            {"wait_file": str(second)},
            {"done": "parser written"},
        )
        await swarm.start_launcher()
        run = await swarm.start(goal)
        status = await swarm.wait(run, lambda s: bool(s["agents"]))
        agent, task = status["agents"][0]["id"], status["agents"][0]["task_id"]
        origin = settings.url.removesuffix("/mcp")
        page: Page = browser.pages[0] if browser.pages else await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(_link(settings, origin))
        await page.evaluate("window.loadedOnce = true")  # gone if the page ever reloads

        tail = page.locator(f"#agents [data-agent-id={agent}] pre.pane-tail")
        await tail.filter(has_text="pane-line-one").wait_for(timeout=SETTLE_MS)
        assert "null" not in await page.inner_text("#queue")  # nothing queued: no "null"
        first.write_text("go")
        await tail.filter(has_text="pane-line-two").wait_for(timeout=SETTLE_MS)
        assert await page.evaluate("window.loadedOnce === true")

        await page.click(f"[data-column=running] [data-task-id={task}]")
        panel = page.locator("#task-detail")
        await (
            panel.locator(".detail-title")
            .filter(has_text="Analyse the goal")
            .wait_for(timeout=SETTLE_MS)
        )
        await (
            panel.locator(".diffstat pre").filter(has_text="parser.py").wait_for(timeout=SETTLE_MS)
        )
        assert "Write the parser and say how far it got." in await panel.inner_text()
        await page.screenshot(path=str(artifacts_dir(request) / "live.png"), full_page=True)
        await page.keyboard.press("Escape")
        assert await panel.is_hidden()
        second.write_text("go")
        await swarm.wait(run, lambda s: not s["agents"])
        assert await page.evaluate("window.loadedOnce === true")
    assert errors == []
