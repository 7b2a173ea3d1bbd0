"""Guardian monitoring cost and catch rate on labelled trajectories (tests/data/trajectories.yaml).

    .venv/bin/python bench/guardian_cost.py [--interval 60]

Each trajectory is a sequence of pane outputs, one per Guardian cycle, for an
agent that is healthy, drifting, stuck, looping, idle without reporting, or
held by a dialog (approval, question, trust, login, rate limit, API error:
built from real Claude Code 2.1.331 panes in tests/data/panes/). It is
replayed through the real pipeline (tests/replaykit.py: pane cursor, dialog
recogniser, heuristic judge, the LLM question builder). LLM cost is counted,
not spent: tokens are estimated as characters / 4 on the exact text that
would be sent, plus a fixed answer. Baseline in the same run: the naive
monitor, one call per agent per interval with the full pane capture (200
lines). Targets: <= 1/5 of the baseline's tokens; no labelled problem missed
(a dialog must be seen, as its kind, at the first look after it appears); no
false alarm (no steer at a healthy agent or at one held by a dialog, no
dialog where none is shown).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from replaykit import Replay, load, replay  # noqa: E402

from guardian.judges import BLOCKED  # noqa: E402

console = Console(width=140)


def cost_table(results: list[Replay], interval: float, llm_every: int) -> Table:
    table = Table(
        title=f"Guardian cost per agent-hour (a look every {interval:.0f}s, "
        f"the LLM every {llm_every} looks with new output)"
    )
    for column in ("trajectory", "label", "caught as", "calls", "tokens", "naive calls",
                   "naive tokens", "ratio"):  # fmt: skip
        table.add_column(column)
    for result in results:
        scale = 3600 / interval / result.cycles
        ours, naive = result.ours, result.naive
        caught = sorted({state for _, state in result.steers})
        if result.dialogs:
            caught.append(f"{BLOCKED} ({', '.join(sorted({k for _, k in result.dialogs}))})")
        table.add_row(
            result.name, result.label, ", ".join(caught) or "-",
            f"{ours['calls'] * scale:.0f}", f"{ours['tokens'] * scale:,.0f}",
            f"{naive['calls'] * scale:.0f}", f"{naive['tokens'] * scale:,.0f}",
            f"{ours['tokens'] / naive['tokens']:.3f}",
        )  # fmt: skip
    return table


def dialog_table(results: list[Replay]) -> Table:
    """Per dialog kind: trajectories, seen at the first look, missed, and false alarms."""
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for result in results:
        if result.expected_dialog is not None:
            row = rows[result.expected_dialog[1]]
            row[0] += 1
            row[1 if not result.missed else 2] += 1
            row[3] += result.false_alarm
        for _, kind in result.dialogs if result.expected_dialog is None else []:
            rows[kind][3] += 1
    healthy = [r for r in results if r.label == "healthy"]
    rows["(none: healthy)"] = [len(healthy), 0, 0, sum(r.false_alarm for r in healthy)]
    table = Table(title="Dialogs: recorded as blocked_on_dialog, never steered")
    for column in ("dialog kind", "trajectories", "seen at first look", "missed", "false alarms"):
        table.add_column(column)
    for kind, (count, seen, missed, alarms) in rows.items():
        table.add_row(kind, str(count), str(seen), str(missed), str(alarms))
    return table


async def main(interval: float, llm_every: int) -> None:
    results = [await replay(trajectory, llm_every) for trajectory in load()]
    console.print(cost_table(results, interval, llm_every))
    console.print(dialog_table(results))
    ratio = sum(r.ours["tokens"] for r in results) / sum(r.naive["tokens"] for r in results)
    missed = [r.name for r in results if r.missed]
    false_alarms = [r.name for r in results if r.false_alarm]
    console.print(
        f"All trajectories: {ratio:.3f} of the naive baseline's tokens (target <= 0.2); "
        f"labelled problems missed: {missed or 'none'}; false alarms: {false_alarms or 'none'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--llm-every", type=int, default=5, help="Cycles between LLM looks")
    args = parser.parse_args()
    asyncio.run(main(args.interval, args.llm_every))
