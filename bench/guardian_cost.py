"""Guardian monitoring cost and catch rate on labelled trajectories (tests/data/trajectories.yaml).

    .venv/bin/python bench/guardian_cost.py [--interval 60]

Each trajectory is a sequence of pane outputs, one per Guardian cycle, for an
agent that is healthy, drifting, stuck, looping or idle without reporting.
It is replayed through the real pipeline (pane cursor, heuristic judge, the
LLM question builder). LLM cost is counted, not spent: tokens are estimated
as characters / 4 on the exact text that would be sent, plus a fixed answer.
Baseline in the same run: the naive monitor, one call per agent per interval
with the full pane capture (200 lines). Target: <= 1/5 of the baseline's
tokens with no labelled problem missed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from guardian.guardian import llm_due  # noqa: E402
from guardian.judges import HeuristicJudge  # noqa: E402
from guardian.llm_judges import SYSTEM, question  # noqa: E402
from guardian.observe import Cursor, Observation, advance, at_prompt  # noqa: E402

ANSWER_TOKENS = 60
CAPTURE_LINES = 200
console = Console()


def tokens(text: str) -> int:
    return len(text) // 4 + 1


async def replay(trajectory: dict, llm_every: int) -> dict:
    cursor, judge = Cursor(), HeuristicJudge()
    pane: list[str] = []
    ours = {"calls": 0, "tokens": 0}
    naive = {"calls": 0, "tokens": 0}
    caught: list[str] = []
    for cycle in trajectory["cycles"]:
        pane = (pane + list(cycle["add"]))[-CAPTURE_LINES:]
        capture = "\n".join(pane)
        naive["calls"] += 1
        naive["tokens"] += tokens(SYSTEM + capture) + ANSWER_TOKENS
        added, tail = advance(cursor, capture)
        obs = Observation(
            agent_id="a", task_id="t", run_id="r", phase=trajectory["phase"],
            task_title=trajectory["name"], session="s", worktree=trajectory.get("worktree", ""),
            new_lines=added, tail=tail, unchanged_cycles=cursor.unchanged_cycles,
            at_prompt=at_prompt(tail), busy=False, changed_files=list(cycle["files"]),
            previous_summary=cursor.summary, repeated_errors=dict(cursor.errors),
            unjudged=list(cursor.unjudged), cycles_since_llm=cursor.since_llm,
        )  # fmt: skip
        verdict = await judge.judge(obs)
        if verdict.steering:
            caught.append(verdict.state)
            cursor.errors.clear()
        elif obs.changed and llm_due(obs, llm_every):
            ours["calls"] += 1
            ours["tokens"] += tokens(SYSTEM + question(obs)) + ANSWER_TOKENS
            cursor.summary = "a two-sentence summary carried into the next look" * 2
            cursor.unjudged, cursor.since_llm = [], 0
    return {"ours": ours, "naive": naive, "caught": caught, "cycles": len(trajectory["cycles"])}


async def main(interval: float, llm_every: int) -> None:
    data = yaml.safe_load((ROOT / "tests" / "data" / "trajectories.yaml").read_text())
    per_hour = 3600 / interval
    table = Table(
        title=f"Guardian cost per agent-hour (a look every {interval:.0f}s, "
        f"the LLM every {llm_every} looks with new output)"
    )
    for column in ("trajectory", "label", "caught as", "calls", "tokens", "naive calls",
                   "naive tokens", "ratio"):  # fmt: skip
        table.add_column(column)
    totals = {"ours": 0, "naive": 0}
    missed, false_alarms = [], []
    for trajectory in data["trajectories"]:
        result = await replay(trajectory, llm_every)
        scale = per_hour / result["cycles"]
        ours, naive = result["ours"], result["naive"]
        totals["ours"] += ours["tokens"]
        totals["naive"] += naive["tokens"]
        label = trajectory["label"]
        if label == "healthy" and result["caught"]:
            false_alarms.append(trajectory["name"])
        if label != "healthy" and label not in result["caught"]:
            missed.append(trajectory["name"])
        table.add_row(
            trajectory["name"], label, ", ".join(sorted(set(result["caught"]))) or "-",
            f"{ours['calls'] * scale:.0f}", f"{ours['tokens'] * scale:,.0f}",
            f"{naive['calls'] * scale:.0f}", f"{naive['tokens'] * scale:,.0f}",
            f"{ours['tokens'] / naive['tokens']:.3f}",
        )  # fmt: skip
    console.print(table)
    ratio = totals["ours"] / totals["naive"]
    console.print(
        f"All trajectories: {ratio:.3f} of the naive baseline's tokens (target <= 0.2); "
        f"labelled problems missed: {missed or 'none'}; false alarms on healthy: "
        f"{false_alarms or 'none'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--llm-every", type=int, default=5, help="Cycles between LLM looks")
    args = parser.parse_args()
    asyncio.run(main(args.interval, args.llm_every))
