"""What cost records look like: tokens and estimated dollars per agent, task and run."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from heph_mcp.prices import Usage

BudgetState = Literal["none", "ok", "warning", "over_budget"]
WARN_AT = 0.8


class UsageEntry(Usage):
    """One model call's tokens, keyed so that reporting it again replaces it (idempotent)."""

    key: str = Field(
        min_length=1, max_length=128, description="The message id (a transcript's message.id)"
    )
    model: str = Field(min_length=1, max_length=128)


class Spend(Usage):
    """A sum of usage, with its estimated price."""

    usd: float = Field(default=0.0, description="Estimated, from the price table")
    unpriced_tokens: int = Field(
        default=0, description="Tokens of models the price table has no entry for"
    )

    def add(self, usage: Usage, usd: float | None) -> None:
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_tokens += usage.cache_read_tokens
        self.cache_write_tokens += usage.cache_write_tokens
        if usd is None:
            self.unpriced_tokens += usage.total
        else:
            self.usd += usd


class AgentSpend(Spend):
    agent_id: str
    task_id: str
    source: Literal["agent", "guardian"]


class TaskSpend(Spend):
    task_id: str


class RunCost(Spend):
    """A run's spend: its agents' own model use and the Guardian's judging of them."""

    run_id: str
    guardian: Spend = Field(default_factory=Spend, description="The Guardian's LLM use")
    agents: list[AgentSpend] = Field(default_factory=list)
    tasks: list[TaskSpend] = Field(default_factory=list)
    unpriced_models: list[str] = Field(default_factory=list)
    budget_tokens: int | None = None
    budget_usd: float | None = None
    budget_used: float | None = Field(
        default=None, description="The larger of tokens and dollars spent over their budget, 0..1+"
    )
    budget_state: BudgetState = "none"

    def judge_budget(self) -> None:
        shares = []
        if self.budget_tokens:
            shares.append(self.total / self.budget_tokens)
        if self.budget_usd:
            shares.append(self.usd / self.budget_usd)
        if not shares:
            return
        self.budget_used = round(max(shares), 4)
        self.budget_state = (
            "over_budget"
            if self.budget_used >= 1
            else "warning"
            if self.budget_used >= WARN_AT
            else "ok"
        )

    def line(self) -> str:
        """One line for status texts: tokens by kind, dollars, and the budget's state."""
        text = (
            f"{self.total:,} tokens (in {self.input_tokens:,}, out {self.output_tokens:,},"
            f" cache read {self.cache_read_tokens:,}, cache write {self.cache_write_tokens:,}),"
            f" ~${self.usd:.2f}"
        )
        if self.guardian.total:
            text += f" incl. Guardian {self.guardian.total:,} tokens ~${self.guardian.usd:.2f}"
        if self.unpriced_tokens:
            text += f"; {self.unpriced_tokens:,} unpriced ({', '.join(self.unpriced_models)})"
        return text + self._budget_text()

    def _budget_text(self) -> str:
        if self.budget_used is None:
            return ""
        note = {"warning": " WARNING: 80% reached", "over_budget": " OVER BUDGET"}
        return (
            f"; budget {self.budget_used:.0%} of {budget_caps(self.budget_tokens, self.budget_usd)}"
            f"{note.get(self.budget_state, '')}"
        )


class UsageRecorded(BaseModel):
    recorded: int
    run_id: str
    budget_state: BudgetState
    budget_used: float | None = None


def budget_caps(tokens: object, usd: object) -> str:
    """`1,000 tokens / $2.50`: the caps a budget sets, as status lines and the log show them."""
    caps = [f"{tokens:,} tokens"] if isinstance(tokens, int) and tokens else []
    caps += [f"${usd:.2f}"] if isinstance(usd, int | float) and usd else []
    return " / ".join(caps) or "no cap"
