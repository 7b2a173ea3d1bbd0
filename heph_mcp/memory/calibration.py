"""Precision and recall of the task-similarity thresholds on a labelled set of pairs.

Used by `bench/dedup_thresholds.py` to choose the defaults and by the tests to
check that the configured defaults still separate the labelled pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from heph_mcp.memory.embedder import LocalEmbedder
from heph_mcp.services.dedup import task_text


@dataclass(frozen=True)
class ScoredPair:
    label: str  # duplicate | related | unrelated
    score: float


@dataclass(frozen=True)
class Quality:
    threshold: float
    precision: float
    recall: float
    true_pos: int
    false_pos: int
    false_neg: int


def score_pairs(path: Path, embedder: LocalEmbedder) -> list[ScoredPair]:
    pairs = yaml.safe_load(path.read_text())["pairs"]
    left = embedder.encode_sync([task_text(**p["a"]) for p in pairs])
    right = embedder.encode_sync([task_text(**p["b"]) for p in pairs])
    scores = np.sum(left * right, axis=1)
    return [ScoredPair(p["label"], float(s)) for p, s in zip(pairs, scores, strict=True)]


def quality(pairs: list[ScoredPair], threshold: float, positive: set[str]) -> Quality:
    """Pairs at or above the threshold are predicted positive; `positive` names true labels."""
    tp = sum(p.score >= threshold and p.label in positive for p in pairs)
    fp = sum(p.score >= threshold and p.label not in positive for p in pairs)
    fn = sum(p.score < threshold and p.label in positive for p in pairs)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return Quality(threshold, precision, recall, tp, fp, fn)


DUPLICATE = {"duplicate"}
RELATED_OR_DUPLICATE = {"duplicate", "related"}
