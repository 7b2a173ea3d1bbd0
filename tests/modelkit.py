"""A scripted Anthropic-compatible Messages API on loopback: the test double for the LLM only.

The real `claude` binary talks to it through ANTHROPIC_BASE_URL. Each request
is answered by a script (a function of the request body) with text and tool
calls, streamed as the API's server-sent events when `stream` is set. Every
request is logged, so tests can assert what the model was shown.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from testkit import serving_app

Block = dict[str, Any]
Script = Callable[[dict[str, Any]], list[Block]]
_ids = itertools.count(1)


def text(value: str) -> Block:
    return {"type": "text", "text": value}


def tool_use(name: str, arguments: dict[str, Any]) -> Block:
    return {"type": "tool_use", "id": f"toolu_{next(_ids):06d}", "name": name, "input": arguments}


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the newest user turn (tool results included), for scripts to branch on."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        parts = []
        for block in content or []:
            if block.get("type") == "text":
                parts.append(block.get("text", ""))
            elif block.get("type") == "tool_result":
                inner = block.get("content")
                parts.append(json.dumps(inner) if not isinstance(inner, str) else inner)
        return "\n".join(parts)
    return ""


BRIEF = re.compile(r"brief is in the file (\S+?\.md)")
WORKDIR = re.compile(r"Primary working directory: ([^\s\\\"]+)")
TITLE = re.compile(r"^# Your task: (.+)$", re.MULTILINE)


def task_title(body: dict[str, Any]) -> str:
    """Read the agent's brief file named in its first message (the model may read files)."""
    first = str(body["messages"][0]["content"])
    found = BRIEF.search(first)
    brief = Path(found.group(1)) if found else None
    if brief is None or not brief.is_file():  # a late side request after the agent ended
        return ""
    title = TITLE.search(brief.read_text())
    return title.group(1) if title else ""


def turns(body: dict[str, Any]) -> int:
    return sum(1 for m in body["messages"] if m["role"] == "assistant")


def in_workdir(block: Block, body: dict[str, Any]) -> Block:
    """Put the agent's working directory (from its system prompt) where a file path says {cwd}."""
    cwd = WORKDIR.search(json.dumps(body))
    path = block.get("input", {}).get("file_path")
    if cwd is None or path is None:
        return block
    return {**block, "input": {**block["input"], "file_path": path.replace("{cwd}", cwd.group(1))}}


@dataclass
class ScriptedModel:
    script: Script
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    # Every message's usage, as the Messages API reports it (input_tokens, output_tokens,
    # cache_read_input_tokens, cache_creation_input_tokens); streamed as the API does:
    # message_start with output_tokens 1, message_delta with the final output_tokens.
    usage: dict[str, int] = field(
        default_factory=lambda: {"input_tokens": 100, "output_tokens": 20}
    )

    def _message(self, blocks: list[Block], body: dict[str, Any]) -> dict[str, Any]:
        stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        return {
            "id": f"msg_{next(_ids):06d}", "type": "message", "role": "assistant",
            "model": body.get("model", "scripted"), "content": blocks, "stop_reason": stop,
            "stop_sequence": None, "usage": dict(self.usage),
        }  # fmt: skip

    def _events(self, message: dict[str, Any]) -> Iterator[str]:
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {**message["usage"], "output_tokens": 1}}  # fmt: skip
        yield _sse("message_start", {"type": "message_start", "message": start})
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                opening, delta = (
                    {"type": "text", "text": ""},
                    {"type": "text_delta", "text": block["text"]},
                )
            else:
                opening = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            yield _sse("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": opening})  # fmt: skip
            yield _sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                               "delta": delta})  # fmt: skip
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
        stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        final = {"output_tokens": message["usage"]["output_tokens"]}
        ending = {"type": "message_delta", "usage": final, "delta": stop}
        yield _sse("message_delta", ending)
        yield _sse("message_stop", {"type": "message_stop"})

    async def messages(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        message = self._message(self.script(body), body)
        if body.get("stream"):
            return StreamingResponse(self._events(message), media_type="text/event-stream")
        return JSONResponse(message)

    async def count_tokens(self, request: Request) -> Response:
        return JSONResponse({"input_tokens": 100})


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@contextlib.contextmanager
def model_server(model: ScriptedModel) -> Iterator[ScriptedModel]:
    """Serve a ScriptedModel on a free loopback port; its `url` is set while it runs."""
    app = Starlette(
        routes=[
            Route("/v1/messages", model.messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", model.count_tokens, methods=["POST"]),
        ]
    )
    with serving_app(app) as url:
        model.url = url
        yield model
