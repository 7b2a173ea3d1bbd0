"""Cost from a real transcript: the real `claude` writes its session transcript while the
scripted model (the LLM's test double) reports known `usage` numbers; the launcher reads
that transcript as the session ends, and the server's sums must match it exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from modelkit import task_title, text, tool_use, turns

from heph_mcp.prices import Usage, load_prices
from launcher.usage import UsageReader, totals

USAGE = {
    "input_tokens": 1234,
    "output_tokens": 56,
    "cache_read_input_tokens": 7000,
    "cache_creation_input_tokens": 800,
}
PER_MESSAGE = {
    "input_tokens": 1234,
    "output_tokens": 56,
    "cache_read_tokens": 7000,
    "cache_write_tokens": 800,
}


PRICES = """
prices:
  - {model: "claude-*", input: 2.0, output: 10.0, cache_read: 0.2, cache_write: 2.5}
"""


@pytest.fixture(autouse=True)
def price_table(tmp_path, monkeypatch) -> Path:
    """The user's own table (prices_file), which replaces the package's."""
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES)
    monkeypatch.setenv("HEPH_PRICES_FILE", str(path))
    return path


def script(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Three model messages before the report. The session ends at the report, and Claude
    Code may not have written its last message or two to the transcript by then."""
    if task_title(body) != "Analyse the goal":
        return [text("Nothing to do.")]
    if turns(body) == 0:
        return [text("Looking first."), tool_use("mcp__hephaestus__get_tasks", {})]
    if turns(body) == 1:
        return [text("And who I am."), tool_use("mcp__hephaestus__whoami", {})]
    if turns(body) == 2:
        return [text("Reporting now."), tool_use(
            "mcp__hephaestus__update_task_status", {"status": "done", "summary": "analysed"}
        )]  # fmt: skip
    return [text("Done.")]


async def test_a_real_claude_transcripts_usage_is_summed_into_the_runs_cost(
    claude_swarm, agents_model, price_table
):
    agents_model.script = script
    agents_model.usage = dict(USAGE)
    launcher = await claude_swarm.start_launcher()
    run = await claude_swarm.start("Count the tokens.")
    await claude_swarm.wait(run, lambda s: s["phases"][0]["counts"].get("done") == 1, 120)
    await claude_swarm.wait_until(lambda: not launcher.sessions, timeout=60)

    with claude_swarm.db() as db:
        worktree = db.execute("SELECT worktree FROM agents WHERE run_id = ?", (run,)).fetchone()[0]
    entries = UsageReader().changed(worktree)
    status = (await claude_swarm.user.call("workflow_status", run=run))["runs"][0]
    cost = status["cost"]

    # The transcript itself: one entry per model message, each with the model's numbers.
    assert len(entries) >= 2, entries
    assert [{k: e[k] for k in PER_MESSAGE} for e in entries] == [PER_MESSAGE] * len(entries)
    sums = totals(entries)
    assert sums == {k: v * len(entries) for k, v in PER_MESSAGE.items()}
    # The server's cost: the same sums, per run, task and agent, priced from the table.
    assert {k: cost[k] for k in sums} == sums
    assert [{k: t[k] for k in sums} for t in cost["tasks"]] == [sums]
    assert [(a["source"], a["input_tokens"]) for a in cost["agents"]] == [
        ("agent", sums["input_tokens"])
    ]
    model = entries[0]["model"]
    expected = load_prices(price_table).cost(model, Usage(**sums))
    assert expected is not None and expected > 0
    assert cost["usd"] == round(expected, 6) and cost["unpriced_models"] == []
    assert f"{sum(sums.values()):,} tokens" in status_text(await claude_swarm.user.call(
        "workflow_status", run=run))  # fmt: skip


def status_text(result: Any) -> str:
    return str(result.get("text", "")) if isinstance(result, dict) else str(result)
