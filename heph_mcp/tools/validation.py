"""Validators' verdicts and run results."""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated

from fastmcp import Context, FastMCP
from pydantic import Field

from heph_mcp.identity import current_principal
from heph_mcp.records import Result, Review
from heph_mcp.tools.common import ADDITIVE, ID_MAX, READ_ONLY, Limits, roles, services


def register(mcp: FastMCP, limits: Limits) -> None:
    text = Annotated[str, Field(min_length=1, max_length=limits.text)]
    evidence_list = Annotated[
        list[Annotated[str, Field(min_length=1, max_length=limits.text)]],
        Field(
            max_length=limits.list_items,
            description="Commands you ran, files you read, and what they showed",
        ),
    ]

    @mcp.tool(auth=roles("agent"), annotations=ADDITIVE)
    async def give_validation_review(
        ctx: Context,
        passed: bool,
        feedback: text,
        evidence: evidence_list = [],  # noqa: B006
    ) -> Review:
        """Your verdict as a validator, given once: did the work meet every criterion?

        Failing feedback goes to the agent that redoes the work: say exactly what
        is wrong and how to tell it is fixed.
        """
        return await services(ctx).validation.review(
            current_principal(), passed, feedback, evidence
        )

    @mcp.tool(auth=roles("user", "agent"), annotations=ADDITIVE)
    async def submit_result(
        ctx: Context,
        markdown: text,
        evidence: evidence_list = [],  # noqa: B006
        run: Annotated[
            str | None,
            Field(max_length=ID_MAX, description="User role: the run. Agents omit it."),
        ] = None,
    ) -> Result:
        """Submit the answer the run was started for, once you have found it.

        A validator checks it against the workflow's result criteria; when it
        passes, the run is complete (and, with stop_all, every other agent stops).
        """
        return await services(ctx).results.submit(current_principal(), markdown, evidence, run)

    @mcp.tool(auth=roles("user", "agent"), annotations=READ_ONLY)
    async def get_result(
        ctx: Context, result_id: Annotated[str, Field(min_length=1, max_length=ID_MAX)]
    ) -> Result:
        """Read a submitted result and its review."""
        return await services(ctx).results.read(current_principal(), result_id)
