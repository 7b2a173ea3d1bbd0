"""Domain errors: what an agent did wrong and what it may do instead.

They subclass fastmcp's ToolError so they reach the caller verbatim as an
`isError` tool result the model can act on; anything else that escapes a tool
is a fault and is masked (see `build_server`). Only protocol faults become
JSON-RPC errors.
"""

from __future__ import annotations

from fastmcp.exceptions import ToolError


class HephError(ToolError):
    """Base of every error a caller can fix by changing its request."""


class NotFound(HephError):
    pass


class Forbidden(HephError):
    pass


class InvalidRequest(HephError):
    pass


class Conflict(HephError):
    pass
