"""The cost table of `heph status`: tokens by kind, estimated dollars, and each budget."""

from __future__ import annotations

from typing import Any

from rich.table import Table

BUDGET_STYLE = {"ok": "green", "warning": "bold yellow", "over_budget": "bold red"}
KINDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def cost_table(runs: list[dict[str, Any]]) -> Table | None:
    """One row per run that has used tokens or has a budget; None when no run has either."""
    rows = [rs for rs in runs if _shown(rs.get("cost"))]
    if not rows:
        return None
    table = Table(title="Cost (estimated)", expand=True)
    for column in ("run", "input", "output", "cache read", "cache write", "$", "Guardian",
                   "budget"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("run", "budget") else "right")
    for rs in rows:
        cost = rs["cost"]
        guardian = cost.get("guardian") or {}
        table.add_row(
            rs["run"]["id"],
            *(f"{cost[k]:,}" for k in KINDS),
            f"{cost['usd']:.2f}",
            f"{sum(guardian.get(k, 0) for k in KINDS):,} tok ${guardian.get('usd', 0):.2f}",
            _budget(cost),
        )
    return table


def _shown(cost: dict[str, Any] | None) -> bool:
    if not cost:
        return False
    return any(cost[k] for k in KINDS) or cost.get("budget_used") is not None


def _budget(cost: dict[str, Any]) -> str:
    state = cost.get("budget_state", "none")
    if state == "none":
        return "none"
    caps = [f"{cost['budget_tokens']:,} tok"] if cost.get("budget_tokens") else []
    caps += [f"${cost['budget_usd']:.2f}"] if cost.get("budget_usd") else []
    label = {"warning": "WARNING 80%", "over_budget": "OVER BUDGET"}.get(state, "ok")
    style = BUDGET_STYLE.get(state, "")
    return f"[{style}]{cost['budget_used']:.0%} of {' / '.join(caps)} {label}[/]"
