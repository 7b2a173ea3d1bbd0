"""The default task thresholds, checked on the labelled pairs in tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from heph_mcp.memory.calibration import DUPLICATE, RELATED_OR_DUPLICATE, quality, score_pairs
from heph_mcp.settings import Settings

PAIRS = Path(__file__).resolve().parents[2] / "data" / "task_pairs.yaml"


@pytest.fixture(scope="module")
def scored(embedder):
    return score_pairs(PAIRS, embedder)


def test_the_labelled_set_has_40_pairs_and_at_least_12_of_each_kind(scored):
    labels = [p.label for p in scored]
    assert len(labels) >= 40
    assert min(labels.count(k) for k in ("duplicate", "related", "unrelated")) >= 12


def test_the_duplicate_threshold_flags_no_related_or_unrelated_pair(scored):
    q = quality(scored, Settings().task_duplicate_threshold, DUPLICATE)
    assert q.precision == 1.0 and q.recall >= 0.85


def test_the_related_threshold_links_similar_work_but_not_unrelated_work(scored):
    q = quality(scored, Settings().task_related_threshold, RELATED_OR_DUPLICATE)
    assert q.precision >= 0.95 and q.recall >= 0.9
