"""The repository of record, served over git's own smart-HTTP protocol at /git/.

Workers on other hosts fetch the run's branches from the server host's
repository and push their task branches back to it, with the same URL and
ops token they use for MCP. The transfer is `git http-backend` run as a CGI
program: git's own protocol, not a home-made one. Only the ops role gets in
(401 without a known token, 403 for a user or agent token), and a
pre-receive hook, passed in through git's environment so nothing is written
to the user's repository, admits only Hephaestus task branches (and the
creation of a run's branch): a worker can never move the user's branches,
`heph/<run>` itself (merges happen on the server host), or delete anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from heph_mcp.board.auth import bearer_token
from heph_mcp.records import Principal
from heph_mcp.settings import Settings

log = logging.getLogger("heph.git_http")
PATH = "/git"
Resolve = Callable[[str], Awaitable[Principal | None]]
HEADER_END = b"\r\n\r\n"
PRE_RECEIVE = """#!/bin/sh
# Written by Hephaestus (heph_mcp/git_http.py) for pushes over /git/ only.
# Workers may push task branches heph/<run>-<task> and create a run's branch heph/<run>
# once; nothing else (the user's branches, moving heph/<run>, deleting) is accepted.
status=0
while read old new ref; do
  case "$old" in *[!0]*) created=no ;; *) created=yes ;; esac
  case "$new" in *[!0]*) deleted=no ;; *) deleted=yes ;; esac
  case "$ref" in
    refs/heads/heph/*-*) [ "$deleted" = no ] && continue ;;
    refs/heads/heph/*) [ "$created" = yes ] && continue ;;
  esac
  echo "hephaestus: refused $ref: workers push task branches heph/<run>-<task> and may" \
       "create a run's branch heph/<run>; merges into it happen on the server host" >&2
  status=1
done
exit $status
"""


class GitHttp:
    """`/git/...` for workers: authenticate as ops, then hand the request to git."""

    def __init__(self, settings: Settings, resolve: Resolve):
        self._settings = settings
        self._resolve = resolve
        self._root: Path | None = None

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH + "/{path:path}", self.serve, methods=["GET", "POST"])]

    async def serve(self, request: Request) -> Response:
        refused = await self._refusal(request)
        if refused is not None:
            return refused
        try:
            root = await asyncio.to_thread(self._git_dir)
        except (OSError, subprocess.CalledProcessError):
            return PlainTextResponse(
                f"{self._settings.project} is not a git repository", status_code=503
            )
        return await run_backend(request, cgi_env(request, root, self._hooks()))

    async def _refusal(self, request: Request) -> Response | None:
        token = bearer_token(request)
        principal = await self._resolve(token) if token else None
        if principal is None:
            return PlainTextResponse(
                "send the ops token: git -c http.extraHeader='Authorization: Bearer ...'",
                status_code=401,
            )
        if principal.role != "ops":
            return PlainTextResponse("the repository is for workers (ops role) only", 403)
        return None

    def _git_dir(self) -> Path:
        """The project's common git dir (a worktree's `.git` is only a pointer to it)."""
        if self._root is None:
            out = subprocess.run(
                ["git", "-C", str(self._settings.project), "rev-parse",
                 "--path-format=absolute", "--git-common-dir"],
                capture_output=True, text=True, check=True, timeout=30,
            ).stdout  # fmt: skip
            self._root = Path(out.strip())
        return self._root

    def _hooks(self) -> Path:
        """The pre-receive hook, in the state folder (rewritten if someone changed it)."""
        folder = self._settings.state_dir / "git-hooks"
        hook = folder / "pre-receive"
        if not hook.is_file() or hook.read_text() != PRE_RECEIVE:
            folder.mkdir(parents=True, exist_ok=True)
            hook.write_text(PRE_RECEIVE)
            hook.chmod(0o700)
        return folder


def cgi_env(request: Request, git_dir: Path, hooks: Path) -> dict[str, str]:
    """RFC 3875 variables for git http-backend, and git config through the environment."""
    headers = request.headers
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "GIT_PROJECT_ROOT": str(git_dir),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": "/" + request.path_params["path"],
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "REMOTE_USER": "hephaestus-ops",  # authenticated: http-backend then allows pushes
        "REMOTE_ADDR": request.client.host if request.client else "",
        "CONTENT_TYPE": headers.get("content-type", ""),
        "GIT_CONFIG_COUNT": "3",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(hooks),
        "GIT_CONFIG_KEY_1": "receive.denyDeletes",
        "GIT_CONFIG_VALUE_1": "true",
        "GIT_CONFIG_KEY_2": "core.fsmonitor",
        "GIT_CONFIG_VALUE_2": "false",
    }
    for header, variable in (
        ("content-length", "CONTENT_LENGTH"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ):
        if header in headers:
            env[variable] = headers[header]
    return env


async def run_backend(request: Request, env: dict[str, str]) -> Response:
    """Feed the request body to `git http-backend`, then stream its answer back."""
    process = await asyncio.create_subprocess_exec(
        "git", "http-backend", env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin and process.stdout and process.stderr
    feeding = asyncio.create_task(_feed(request, process.stdin))
    errors = asyncio.create_task(process.stderr.read())
    head = await _read_head(process.stdout)
    # git reads the whole request before it answers; the response's own disconnect
    # listener must not take a body message this feeder is still waiting for.
    await feeding
    status, headers = parse_head(head)

    async def body() -> AsyncIterator[bytes]:
        try:
            assert process.stdout
            while chunk := await process.stdout.read(65536):
                yield chunk
        finally:
            await _finish(process, feeding, errors)

    return StreamingResponse(body(), status_code=status, headers=headers)


async def _feed(request: Request, stdin: asyncio.StreamWriter) -> None:
    try:
        async for chunk in request.stream():
            stdin.write(chunk)
            await stdin.drain()
    except (ConnectionError, BrokenPipeError):
        pass  # git stopped reading: its answer says why
    finally:
        with contextlib.suppress(ConnectionError, BrokenPipeError):
            stdin.close()


async def _read_head(stdout: asyncio.StreamReader) -> bytes:
    """The CGI header block; http-backend ends it with a blank line (CRLF or LF)."""
    try:
        return await stdout.readuntil(HEADER_END)
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    except asyncio.LimitOverrunError:
        return await stdout.read(65536)


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            continue
        if name.strip().lower() == "status":
            status = int(value.split()[0])
        else:
            headers[name.strip()] = value.strip()
    return status, headers


async def _finish(
    process: asyncio.subprocess.Process,
    feeding: asyncio.Task[None],
    errors: asyncio.Task[bytes],
) -> None:
    """Reap git; a client that went away mid-answer must not leave it running."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            if not feeding.done():
                process.kill()
    await process.wait()
    feeding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await feeding
    stderr = (await errors).decode(errors="replace").strip()
    if stderr:
        log.info("git http-backend: %s", stderr[-2000:])
