"""The pure parts of tickets: rank fusion, the FTS5 query, cycle finding."""

from __future__ import annotations

import sqlite3

import pytest

from heph_mcp.services.blocking import find_cycle
from heph_mcp.services.ticket_search import fts_query, reciprocal_rank_fusion


def test_fusion_sums_one_over_k_plus_rank_across_rankings():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60)
    scores = dict(fused)
    assert [key for key, _ in fused] == ["a", "c", "b"]
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)


def test_fusion_breaks_ties_by_first_appearance_and_handles_empty_rankings():
    assert [k for k, _ in reciprocal_rank_fusion([["x"], ["y"]])] == ["x", "y"]
    assert reciprocal_rank_fusion([[], []]) == []
    assert [k for k, _ in reciprocal_rank_fusion([[], ["only"]])] == ["only"]


def test_a_document_found_by_both_rankings_beats_the_top_of_one():
    fused = reciprocal_rank_fusion([["solo", "both"], ["other", "both"]])
    assert fused[0][0] == "both"


def test_the_fts_query_quotes_every_word_so_no_syntax_leaks_in():
    assert (
        fts_query('crash in "parse" ERR_DISK_FULL') == '"crash" OR """parse""" OR "ERR_DISK_FULL"'
    )
    assert fts_query("the a of") is None
    assert fts_query("NOT and OR * -x") == '"NOT" OR "-x"'


@pytest.mark.parametrize("text", ['a"b', "NEAR(", "col:value", "*", "(", "^start", "-x"])
def test_the_fts_query_is_always_valid_fts5(text):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(body)")
    db.execute("INSERT INTO f VALUES ('value start x b')")
    query = fts_query(text)
    if query is not None:
        db.execute("SELECT * FROM f WHERE f MATCH ?", (query,)).fetchall()


def test_find_cycle_returns_the_path_back_to_the_start():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(edges, "a") == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}, "a") == ["a", "a"]
    assert find_cycle({"a": {"b", "d"}, "b": {"c"}, "d": set()}, "a") is None


def test_find_cycle_walks_long_chains_without_recursion():
    edges = {str(i): {str(i + 1)} for i in range(5000)}
    edges["5000"] = {"0"}
    path = find_cycle(edges, "0")
    assert path is not None and len(path) == 5002 and path[-1] == "0"
