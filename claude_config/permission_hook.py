"""Claude Code's PermissionRequest hook for launched agents: no dialog ever waits in a pane.

Claude Code runs this (outside the agent's sandbox) whenever it would ask a
human for permission, with the request as JSON on stdin. We forward it to the
Hephaestus server with the agent's own token, wait for the decision (the
policy's at once, or the user's answer to a question), and print it in the
hook's output format. Anything that goes wrong is a denial with the reason:
falling back to Claude Code's own dialog would leave the agent waiting for
nobody.

Standard library only, run with `python -I`: it starts in tens of
milliseconds and cannot be steered by the agent's environment.
Usage: python -I permission_hook.py CONFIG_JSON   (url, token, sandboxed, deadline)
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

HOOK_PATH = "/hooks/permission-request"
POLL_SECONDS = 25
HTTP_TIMEOUT = POLL_SECONDS + 10


def decision_output(decision: dict[str, Any]) -> str:
    return json.dumps(
        {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}
    )


def denied(reason: str) -> str:
    return decision_output({"behavior": "deny", "message": reason})


def call(config: dict[str, Any], path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        config["url"] + path,
        data=data,
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {config['token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def decide(config: dict[str, Any], event: dict[str, Any]) -> str:
    """Ask the server, then wait for a pending question until it is decided or time is up."""
    deadline = time.monotonic() + float(config.get("deadline", 3600))
    answer = call(config, HOOK_PATH, {
        "tool_name": event.get("tool_name", ""), "tool_input": event.get("tool_input") or {},
        "cwd": event.get("cwd", ""), "sandboxed": bool(config.get("sandboxed")),
    })  # fmt: skip
    while answer.get("decision") is None:
        if time.monotonic() > deadline:
            return denied("no decision arrived in time; the request is denied")
        answer = poll(config, str(answer["id"]))
    return decision_output(answer["decision"])


def poll(config: dict[str, Any], approval_id: str) -> dict[str, Any]:
    """One long poll; a server that is restarting is waited for, not taken as an answer."""
    try:
        return call(config, f"{HOOK_PATH}/{approval_id}?wait={POLL_SECONDS}")
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, ConnectionError):
        time.sleep(1)
        return {"id": approval_id, "decision": None}


def main(argv: list[str]) -> int:
    try:
        with open(argv[1]) as handle:
            config = json.load(handle)
        print(decide(config, json.load(sys.stdin)))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        print(denied(f"Hephaestus refused the request ({exc.code}: {detail}); it is denied"))
    except (OSError, ValueError, KeyError, IndexError) as exc:
        print(denied(f"Hephaestus could not decide this request ({exc}); it is denied"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
