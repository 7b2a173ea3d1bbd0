"""Text fields take printable text, newlines and tabs: never NUL, control characters or
terminal escapes.

Agents write titles, summaries and messages that end up in git commit messages,
tmux panes, logs and terminals. A NUL made `git commit-tree -m` raise; an escape
sequence rewrites a terminal. One check at the tool boundary covers every text
field of every tool, nested ones included, before any service sees it, and the
same rule is stated in every tool's input schema (`pattern`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mcp.types as mt
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import Tool, ToolResult

from heph_mcp.errors import InvalidRequest
from heph_mcp.printable import CONTROL

PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"
ALLOWED = "text fields take printable characters, newlines and tabs only"


def control_problem(value: Any, path: str) -> str | None:
    """What is wrong with the first control character in `value` (walked through lists and
    objects, keys included), or None."""
    if isinstance(value, str):
        found = CONTROL.search(value)
        if found is None:
            return None
        return (
            f"{path or 'argument'}: control character U+{ord(found.group()):04X} at position"
            f" {found.start()} is not allowed; {ALLOWED} (no NUL, no terminal escapes)."
            " Nothing was changed."
        )
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            problem = control_problem(str(key), f"{where} (its name)") or control_problem(
                item, where
            )
            if problem:
                return problem
    if isinstance(value, list):
        for n, item in enumerate(value):
            if problem := control_problem(item, f"{path}[{n}]"):
                return problem
    return None


def with_pattern(schema: Any) -> Any:
    """A copy of a JSON schema where every free-text string states PATTERN."""
    if isinstance(schema, list):
        return [with_pattern(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: with_pattern(v) for k, v in schema.items()}
    kinds = out.get("type")
    is_string = kinds == "string" or (isinstance(kinds, list) and "string" in kinds)
    if is_string and not {"pattern", "enum", "const"} & out.keys():
        out["pattern"] = PATTERN
    return out


class PlainText(Middleware):
    """Refuse control characters in any argument of any tool; state the rule in schemas."""

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        problem = control_problem(context.message.arguments or {}, "")
        if problem:
            raise InvalidRequest(problem)
        return await call_next(context)

    async def on_list_tools(
        self,
        context: MiddlewareContext[mt.ListToolsRequest],
        call_next: CallNext[mt.ListToolsRequest, Sequence[Tool]],
    ) -> Sequence[Tool]:
        tools = await call_next(context)
        return [t.model_copy(update={"parameters": with_pattern(t.parameters)}) for t in tools]
