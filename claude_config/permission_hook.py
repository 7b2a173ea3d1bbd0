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
Usage: python -I permission_hook.py CONFIG_JSON   (url, token, sandboxed, network, deadline)
"""

from __future__ import annotations

import http.client
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

HOOK_PATH = "/hooks/permission-request"
POLL_SECONDS = 25
HTTP_TIMEOUT = POLL_SECONDS + 10
RETRY = (502, 503, 504)  # the server is (re)starting: wait for it rather than deny
ASK_PATIENCE = 60  # seconds to keep posting a request to a server that is not up
# Straight to the server: a proxy from the environment must never see the agent's token.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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
    with OPENER.open(request, timeout=HTTP_TIMEOUT) as response:
        answer = json.loads(response.read())
    if not isinstance(answer, dict) or "id" not in answer:
        raise ValueError(f"unexpected answer from the server: {str(answer)[:200]}")
    return answer


def decide(config: dict[str, Any], event: dict[str, Any]) -> str:
    """Ask the server, then wait for a pending question until it is decided or time is up."""
    deadline = time.monotonic() + float(config.get("deadline", 3600))
    body = {
        "tool_name": event.get("tool_name", ""), "tool_input": event.get("tool_input") or {},
        "cwd": event.get("cwd", ""), "sandboxed": bool(config.get("sandboxed")),
        "network": config.get("network") or ["*"],
    }  # fmt: skip
    patience = float(config.get("patience", ASK_PATIENCE))
    answer = first_answer(config, body, min(deadline, time.monotonic() + patience))
    while answer.get("decision") is None:
        if time.monotonic() > deadline:
            return denied("no decision arrived in time; the request is denied")
        answer = poll(config, str(answer["id"]))
    return decision_output(answer["decision"])


def first_answer(config: dict[str, Any], body: dict[str, Any], until: float) -> dict[str, Any]:
    """Post the request; while the server is restarting, try again until `until`."""
    while True:
        try:
            return call(config, HOOK_PATH, body)
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY or time.monotonic() > until:
                raise
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
            if time.monotonic() > until:
                raise
        time.sleep(1)


def poll(config: dict[str, Any], approval_id: str) -> dict[str, Any]:
    """One long poll; a server that is restarting is waited for, not taken as an answer."""
    try:
        return call(config, f"{HOOK_PATH}/{approval_id}?wait={POLL_SECONDS}")
    except urllib.error.HTTPError as exc:
        if exc.code not in RETRY:
            raise
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
        pass
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
    except Exception as exc:  # noqa: BLE001 - top level: any failure is a denial, never a dialog
        print(denied(f"Hephaestus could not decide this request ({exc!r}); it is denied"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
