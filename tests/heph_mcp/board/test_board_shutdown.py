"""`heph serve` stops promptly even while a browser holds the board's event stream open.

uvicorn waits for every open response before it exits; without HephServer
ending the streams first, Ctrl-C would hang as long as a board tab is open.
"""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from heph_mcp.identity import local_token
from testkit import ServerProcess

pytestmark = pytest.mark.slow
STOP_WITHIN = 10.0  # seconds; a hang would be forever


def test_serve_stops_promptly_on_ctrl_c_with_an_open_event_stream(tmp_path):
    server = ServerProcess(tmp_path).start()
    try:
        token = local_token(tmp_path / ".hephaestus" / "secrets", "user")
        origin = f"http://127.0.0.1:{server.port}"
        with (
            httpx.Client(timeout=httpx.Timeout(30.0)) as http,
            http.stream(
                "GET", origin + "/board/events", headers={"Authorization": f"Bearer {token}"}
            ) as stream,
        ):
            lines = stream.iter_lines()
            assert next(lines) == "event: snapshot"
            assert next(lines).startswith("data: {")
            assert server.proc is not None
            server.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
            started = time.monotonic()
            server.proc.wait(timeout=STOP_WITHIN)
            assert time.monotonic() - started < STOP_WITHIN
            rest = list(lines)  # the server ended the stream; it did not just drop the socket
        assert all(line in ("", ": ping") for line in rest)
        assert server.proc.returncode is not None
    finally:
        server.stop()
