"""The Guardian reports each agent's tokens from its transcript as it works, and its own."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from swarmkit import scripted

from guardian.guardian import Guardian
from guardian.judges import Verdict
from guardian.observe import Observation
from launcher.usage import transcript_dir


def claude_line(message_id: str, text: str, **usage: int) -> str:
    """An assistant line as Claude Code 2.1.331 writes it (one per content block)."""
    return json.dumps({
        "type": "assistant", "uuid": f"u-{text}", "requestId": f"req-{message_id}",
        "message": {"id": message_id, "model": "claude-sonnet-4-5", "role": "assistant",
                    "content": [{"type": "text", "text": text}], "usage": usage},
    }) + "\n"  # fmt: skip


async def running_agent(swarm) -> tuple[str, dict]:
    await swarm.start_launcher()
    goal = scripted("Work quietly.", {"write": "notes.md", "text": "x"}, {"sleep": 60})
    run = await swarm.start(goal)
    status = await swarm.wait(run, lambda s: len(s["agents"]) == 1)
    return run, status["agents"][0]


async def cost_of(swarm, run: str) -> dict:
    return (await swarm.user.call("workflow_status", run=run))["runs"][0]["cost"]


async def test_usage_in_a_transcript_is_reported_each_cycle_and_never_twice(
    swarm, tmp_path, monkeypatch
):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    run, agent = await running_agent(swarm)
    folder = transcript_dir(agent["worktree"])
    folder.mkdir(parents=True)
    transcript = folder / "session.jsonl"
    transcript.write_text(
        claude_line("m1", "a", input_tokens=10, output_tokens=3, cache_read_input_tokens=100)
        + claude_line("m1", "b", input_tokens=10, output_tokens=7, cache_read_input_tokens=100)
        + '{"type": "user", "message": {"role": "user", "content": "hi"}}\n'
    )
    guardian = Guardian(swarm.ops(), swarm.tmux, worker=swarm.settings.worker_id)
    async with guardian.client:
        await guardian.cycle()
        first = await cost_of(swarm, run)
        with transcript.open("a") as handle:
            handle.write(claude_line("m2", "c", input_tokens=5, cache_creation_input_tokens=40))
        await guardian.cycle()
        await guardian.cycle()
        second = await cost_of(swarm, run)
    kinds = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    assert [first[k] for k in kinds] == [10, 7, 100, 0]
    assert [second[k] for k in kinds] == [15, 7, 100, 40]


@dataclass
class PricedJudge:
    """Test double for an LLM judge that names its model and reports its tokens."""

    name: str = "scripted-llm"
    model: str = "claude-haiku-4-5"

    async def judge(self, observation: Observation) -> Verdict:
        return Verdict("implementing", 0.9, "fine", tokens_in=1000, tokens_out=50)


async def test_the_guardians_own_llm_calls_count_in_the_runs_cost(swarm):
    run, agent = await running_agent(swarm)
    guardian = Guardian(swarm.ops(), swarm.tmux, worker=swarm.settings.worker_id,
                        llm=PricedJudge())  # fmt: skip
    async with guardian.client:
        calls = 0
        for _ in range(40):
            calls += (await guardian.cycle()).llm_calls
            if calls:
                break
            await asyncio.sleep(0.25)
    cost = await cost_of(swarm, run)
    assert calls == 1
    assert cost["guardian"]["input_tokens"] == 1000 and cost["guardian"]["output_tokens"] == 50
    assert cost["guardian"]["usd"] == round((1000 * 1.0 + 50 * 5.0) / 1e6, 6)
    assert [a["source"] for a in cost["agents"]] == ["guardian"]
