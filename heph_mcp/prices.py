"""The price table: what a million tokens of each kind cost, per model, in US dollars.

Prices change and differ by contract, so they are data the user can edit
(`prices_file`), not code; the package ships a default (data/prices.yaml).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

PER = 1_000_000


class Usage(BaseModel):
    """Tokens of one message (or a sum of them), as Claude Code's transcripts count them."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


class Price(BaseModel):
    model: str = Field(min_length=1, description="A glob over model names, e.g. claude-sonnet-4*")
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float = Field(default=0, ge=0)
    cache_write: float = Field(default=0, ge=0)

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
        ) / PER


class PriceTable(BaseModel):
    prices: list[Price]

    def find(self, model: str) -> Price | None:
        """The first entry whose glob matches, so specific entries go before general ones."""
        return next((p for p in self.prices if fnmatchcase(model, p.model)), None)

    def cost(self, model: str, usage: Usage) -> float | None:
        price = self.find(model)
        return None if price is None else price.cost(usage)


def load_prices(path: Path | None = None) -> PriceTable:
    """The user's table when `path` is set, else the package's; a bad file says what is wrong."""
    if path is None:
        text = resources.files("heph_mcp").joinpath("data/prices.yaml").read_text()
        where = "heph_mcp/data/prices.yaml"
    else:
        text, where = Path(path).expanduser().read_text(), str(path)
    try:
        return PriceTable.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ValueError(
            f"price table {where} is invalid: {exc}. Expected `prices:` with entries"
            " {model, input, output, cache_read, cache_write} in dollars per million tokens"
        ) from None
