"""The user's side of agents' approval requests: see what waits, and answer it."""

# No `from __future__ import annotations`: fastmcp reads these signatures at
# registration, and closures over `limits` must be real objects, not strings.

from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import BaseModel, Field

from heph_mcp.identity import current_principal
from heph_mcp.records import Approval, ApprovalStatus
from heph_mcp.tools.common import ID_MAX, IDEMPOTENT_WRITE, READ_ONLY, Limits, roles, services


class QuestionList(BaseModel):
    questions: list[Approval] = Field(description="Newest first")


def register(mcp: FastMCP, limits: Limits) -> None:
    answer_text = Annotated[str, Field(min_length=1, max_length=limits.text)]

    @mcp.tool(auth=roles("user"), annotations=READ_ONLY)
    async def list_questions(
        ctx: Context,
        run: Annotated[str | None, Field(max_length=ID_MAX, description="Only this run")] = None,
        status: Annotated[
            ApprovalStatus | None,
            Field(description="pending (default): waiting for you; or a decided status"),
        ] = "pending",
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
    ) -> QuestionList:
        """Agents' requests their policy left to you: a tool outside their allow list, a
        command their sandbox cannot run, a question for you (AskUserQuestion).

        Unanswered ones are denied at their expires_at. Subscribe to heph://questions
        to hear of new ones.
        """
        listed = await services(ctx).approvals.listed(run, status, limit)
        return QuestionList(questions=listed)

    @mcp.tool(auth=roles("user"), annotations=IDEMPOTENT_WRITE)
    async def answer_question(
        ctx: Context,
        question_id: Annotated[str, Field(min_length=1, max_length=ID_MAX)],
        decision: Literal["allow", "deny"],
        message: Annotated[
            str, Field(max_length=limits.text, description="Told to the agent (why, or what to do)")
        ] = "",
        answers: Annotated[
            dict[Annotated[str, Field(max_length=limits.text)], answer_text] | None,
            Field(
                max_length=limits.list_items,
                description="For AskUserQuestion with decision allow: question text -> answer",
            ),
        ] = None,
    ) -> Approval:
        """Decide a pending request; the waiting agent continues at once with your answer."""
        return await services(ctx).approvals.answer(
            current_principal(), question_id, decision, message, answers
        )
