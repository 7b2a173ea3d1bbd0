"""The live view over MCP: launchers report pane tails and diff stats (ops), the user reads a
task's detail and an agent's pane; other roles cannot, and bad reports change nothing."""

from __future__ import annotations

from ticketkit import call, refused

from heph_mcp.printable import strip_terminal

ESCAPED = "\x1b[1;32m✓ tests pass\x1b[0m\r\n\x1b]0;evil title\x07plain line\x1b[2J"
STAT = " src/parser.py | 4 ++--\n 1 file changed, 2 insertions(+), 2 deletions(-)"


def _diffstat(task_id: str, run_id: str) -> dict:
    return {"task_id": task_id, "base": f"heph/{run_id}", "files": 1, "insertions": 2,
            "deletions": 2, "text": STAT}  # fmt: skip


async def test_a_tail_with_raw_escapes_is_refused_and_a_stripped_one_is_what_the_user_reads(heph):
    """The launcher strips its panes before it reports them; a raw one breaks the rule every
    tool keeps (no control characters), so it is refused and stores nothing."""
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        raw = await refused(ops, "report_live_view",
                            tails=[{"agent_id": agent.agent_id, "text": ESCAPED}])  # fmt: skip
        reported = await call(ops, "report_live_view", tails=[{"agent_id": agent.agent_id,
                              "text": strip_terminal(ESCAPED)}])  # fmt: skip
    assert "tails[0].text: control character U+001B" in raw
    assert reported == {"tails": 1, "diffstats": 0, "ignored": []}
    async with heph.user() as user:
        output = await call(user, "get_agent_output", agent_id=agent.agent_id)
    assert output["tail"]["text"] == "✓ tests pass\nplain line"
    assert output["task_id"] == agent.task_id and output["status"] == "running"


async def test_an_ended_agent_has_no_tail_and_reports_for_it_are_ignored(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        await call(ops, "report_live_view", tails=[{"agent_id": agent.agent_id, "text": "hi"}])
        await call(ops, "report_agent_exit", agent_id=agent.agent_id, reason="died")
        late = await call(ops, "report_live_view", tails=[{"agent_id": agent.agent_id,
                                                          "text": "late"}])  # fmt: skip
    assert late["tails"] == 0 and late["ignored"] == [f"{agent.agent_id}: not a running agent"]
    async with heph.user() as user:
        output = await call(user, "get_agent_output", agent_id=agent.agent_id)
        missing = await refused(user, "get_agent_output", agent_id="ag-nobody")
    assert output["status"] == "exited" and output["tail"] is None
    assert "no agent 'ag-nobody'" in missing and "get_agent_status" in missing


async def test_task_detail_holds_brief_guidance_summary_merge_and_diff_stat(heph):
    started = await heph.start_run(goal="the parser crashes on empty input")
    agent = await heph.launch_agent()
    async with heph.ops() as ops:
        await call(ops, "record_analysis", agent_id=agent.agent_id, judge="heuristic",
                   state="looping", alignment=0.3, summary="same failure",
                   steering="Read the traceback before retrying.")  # fmt: skip
        await call(ops, "report_live_view", diffstats=[_diffstat(agent.task_id, started["run_id"])])
    async with heph.client(agent.token) as own:
        await call(own, "update_task_status", status="done", summary="length check added")
    async with heph.user() as user:
        detail = await call(user, "get_task_detail", task_id=agent.task_id)
    assert detail["task"]["summary"] == "length check added"
    assert "the parser crashes on empty input" in detail["brief"]
    (steer,) = detail["guidance"]
    assert steer["text"] == "Read the traceback before retrying." and steer["source"] == "guardian"
    assert detail["diffstat"]["text"] == STAT and detail["diffstat"]["insertions"] == 2
    assert detail["diffstat"]["base"] == f"heph/{started['run_id']}"


async def test_a_failed_task_shows_its_failure_reason_in_its_detail(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    async with heph.client(agent.token) as own:
        await call(own, "update_task_status", status="failed", summary="no runner for Windows")
    async with heph.user() as user:
        detail = await call(user, "get_task_detail", task_id=agent.task_id)
    assert detail["task"]["status"] == "failed"
    assert "no runner for Windows" in (detail["task"]["failure_reason"] or "") + (
        detail["task"]["summary"] or ""
    )


async def test_agents_cannot_report_tails_nor_read_details_or_other_panes(heph):
    await heph.start_run()
    agent = await heph.launch_agent()
    before = heph.snapshot()
    async with heph.client(agent.token) as own:
        for tool, args in (
            ("report_live_view", {"tails": [{"agent_id": agent.agent_id, "text": "forged"}]}),
            ("get_task_detail", {"task_id": agent.task_id}),
            ("get_agent_output", {"agent_id": agent.agent_id}),
        ):
            result = await own.call_tool(tool, args, raise_on_error=False)
            assert result.is_error, tool
    async with heph.ops() as ops:
        denied = await ops.call_tool("get_task_detail", {"task_id": agent.task_id},
                                     raise_on_error=False)  # fmt: skip
    assert denied.is_error
    assert heph.snapshot() == before
    async with heph.user() as user:
        assert (await call(user, "get_agent_output", agent_id=agent.agent_id))["tail"] is None


async def test_a_malformed_report_is_refused_by_its_schema_and_stores_nothing(heph):
    started = await heph.start_run()
    agent = await heph.launch_agent()
    before = heph.snapshot()
    async with heph.ops() as ops:
        bad_stat = {**_diffstat(agent.task_id, started["run_id"]), "files": -1}
        extra = {"agent_id": agent.agent_id, "text": "x", "color": "red"}
        for args in ({"diffstats": [bad_stat]}, {"tails": [extra]}, {"tails": "not a list"}):
            result = await ops.call_tool("report_live_view", args, raise_on_error=False)
            assert result.is_error, args
        unknown = await call(ops, "report_live_view",
                             diffstats=[_diffstat("t-missing", started["run_id"])])  # fmt: skip
    assert unknown == {"tails": 0, "diffstats": 0, "ignored": ["t-missing: no such task"]}
    assert heph.snapshot() == before
