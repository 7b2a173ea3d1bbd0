"""The approval policy: who decides when an agent asks for something its settings do not allow.

Agents run unattended, so a permission dialog in a pane would wait forever.
Instead every remaining request goes to the server, where this policy (from
the workflow, optionally refined per phase) decides: allow, deny, or ask the
user, who answers over MCP before `timeout` or the request is denied.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Decision = Literal["allow", "deny", "ask"]


class ApprovalRule(BaseModel):
    """First matching rule wins. `tool` and `match` are shell-style globs (`*`, `?`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(default="*", min_length=1, description="Tool name, e.g. Bash, WebFetch")
    match: str = Field(
        default="*",
        min_length=1,
        description="Glob on what the tool acts on: a Bash command, a file path or a URL",
    )
    decision: Decision
    message: str = Field(default="", description="Told to the agent when this rule denies")

    def applies(self, tool: str, subject: str) -> bool:
        return fnmatchcase(tool, self.tool) and fnmatchcase(subject, self.match)


class ApprovalPolicy(BaseModel):
    """A workflow's (or a phase's) answer to approval requests.

    A phase's rules are tried before its workflow's; a phase's `default` and
    `timeout`, when set, replace the workflow's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[ApprovalRule] = Field(default_factory=list)
    default: Decision | None = Field(
        default=None, description="When no rule matches (workflow default: deny)"
    )
    timeout: float | None = Field(
        default=None, ge=1, le=86400, description="Seconds a question waits for the user"
    )


DEFAULT_DECISION: Decision = "deny"
DEFAULT_TIMEOUT = 300.0
