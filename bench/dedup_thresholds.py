"""Choose the duplicate / related thresholds of create_task from labelled pairs.

    .venv/bin/python bench/dedup_thresholds.py [tests/data/task_pairs.yaml]

Prints precision and recall at each threshold for "duplicate" (positives:
duplicate pairs) and "related" (positives: duplicate or related pairs), and
the defaults in heph_mcp/settings.py for comparison. A false duplicate hides
real work from the swarm, so the duplicate threshold favours precision.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from heph_mcp.memory.calibration import (  # noqa: E402
    DUPLICATE,
    RELATED_OR_DUPLICATE,
    quality,
    score_pairs,
)
from heph_mcp.memory.embedder import LocalEmbedder  # noqa: E402
from heph_mcp.settings import Settings  # noqa: E402


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/data/task_pairs.yaml"
    console = Console()
    with console.status("embedding pairs with the default model..."):
        pairs = score_pairs(path, LocalEmbedder())
    counts = {
        label: sum(p.label == label for p in pairs)
        for label in ("duplicate", "related", "unrelated")
    }
    console.print(f"{len(pairs)} pairs: {counts}")
    defaults = Settings()
    for name, positive, chosen in (
        ("duplicate", DUPLICATE, defaults.task_duplicate_threshold),
        ("related", RELATED_OR_DUPLICATE, defaults.task_related_threshold),
    ):
        table = Table(title=f"{name}: positives = {sorted(positive)}")
        for column in ("threshold", "precision", "recall", "TP", "FP", "FN", ""):
            table.add_column(column, justify="right")
        for step in range(10, 100, 5):
            q = quality(pairs, step / 100, positive)
            mark = "<- default" if abs(q.threshold - chosen) < 1e-9 else ""
            table.add_row(
                f"{q.threshold:.2f}",
                f"{q.precision:.2f}",
                f"{q.recall:.2f}",
                str(q.true_pos),
                str(q.false_pos),
                str(q.false_neg),
                mark,
            )
        console.print(table)


if __name__ == "__main__":
    main()
