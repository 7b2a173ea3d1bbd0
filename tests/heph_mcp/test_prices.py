"""The price table: the shipped default loads, the first matching glob wins, a bad file
says what is wrong and what is expected."""

from __future__ import annotations

import pytest

from heph_mcp.prices import Usage, load_prices


def test_the_shipped_table_prices_each_kind_of_token_per_million():
    table = load_prices()
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000,
                  cache_read_tokens=1_000_000, cache_write_tokens=1_000_000)  # fmt: skip
    assert table.cost("claude-sonnet-4-5-20250929", usage) == pytest.approx(3 + 15 + 0.3 + 3.75)
    assert table.cost("a-model-nobody-priced", usage) is None


def test_the_first_matching_entry_wins_so_specific_models_go_first(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text(
        "prices:\n"
        "  - {model: 'claude-opus-4-5*', input: 5, output: 25}\n"
        "  - {model: 'claude-opus-4*', input: 15, output: 75}\n"
    )
    table = load_prices(path)
    one = Usage(input_tokens=1_000_000)
    assert table.cost("claude-opus-4-5-20251101", one) == 5
    assert table.cost("claude-opus-4-1", one) == 15


@pytest.mark.parametrize(
    "text", ["prices: [{model: x, input: -1, output: 1}]", "prices: {not: a list}", "[: bad"]
)
def test_a_bad_table_names_the_file_and_the_expected_shape(tmp_path, text):
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"(?s)prices\.yaml is invalid.*dollars per million"):
        load_prices(path)
