"""The network gate: listed hosts are connected, any other refused at once, over HTTP and SOCKS5.

Real sockets on loopback: a small origin server stands behind the gate.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator

import pytest

from claude_config.confinement import host_allowed
from launcher.netproxy import NetworkGate, open_gate


@pytest.mark.parametrize(
    ("host", "patterns", "expected"),
    [
        ("pypi.org", ["pypi.org"], True),
        ("PyPI.org.", ["pypi.org"], True),
        ("files.pythonhosted.org", ["*.pythonhosted.org"], True),
        ("pythonhosted.org", ["*.pythonhosted.org"], True),
        ("evilpypi.org", ["pypi.org"], False),
        ("pypi.org.evil.com", ["pypi.org"], False),
        ("example.com", [], False),
    ],
)
def test_a_host_is_allowed_only_by_a_matching_pattern(host, patterns, expected):
    assert host_allowed(host, patterns) is expected


@pytest.fixture
async def origin() -> AsyncIterator[int]:
    """An HTTP server that answers every request with its own request line."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0]
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(line), line))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.fixture
async def gate() -> AsyncIterator[NetworkGate]:
    running = await NetworkGate(("127.0.0.1",)).start()
    yield running
    await running.close()


async def exchange(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return reader, writer


async def test_plain_http_to_a_listed_host_reaches_it_with_the_path_only(gate, origin):
    request = f"GET http://127.0.0.1:{origin}/simple/x HTTP/1.0\r\nHost: h\r\n\r\n".encode()
    reader, _ = await exchange(gate.http_port, request)
    assert (await asyncio.wait_for(reader.read(), 5)).endswith(b"GET /simple/x HTTP/1.0")


async def test_a_tunnel_to_a_listed_host_carries_the_conversation(gate, origin):
    reader, writer = await exchange(
        gate.http_port, f"CONNECT 127.0.0.1:{origin} HTTP/1.1\r\n\r\n".encode()
    )
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 200")
    writer.write(b"GET /through HTTP/1.0\r\n\r\n")
    assert (await asyncio.wait_for(reader.read(), 5)).endswith(b"GET /through HTTP/1.0")


async def test_any_other_host_is_refused_at_once_with_the_reason(gate):
    reader, _ = await exchange(gate.http_port, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 403")
    assert b"example.com is not in network_allowed_domains" in answer
    assert list(gate.refused) == ["example.com"]


async def test_socks5_follows_the_same_list(gate, origin):
    greeting = b"\x05\x01\x00"
    by_name = b"\x05\x01\x00\x03" + bytes([11]) + b"example.com" + struct.pack("!H", 80)
    reader, _ = await exchange(gate.socks_port, greeting + by_name)
    assert await asyncio.wait_for(reader.read(), 5) == b"\x05\x00" + b"\x05\x02\x00\x01" + bytes(6)
    by_address = b"\x05\x01\x00\x01" + bytes([127, 0, 0, 1]) + struct.pack("!H", origin)
    reader, writer = await exchange(gate.socks_port, greeting + by_address)
    assert await asyncio.wait_for(reader.readexactly(12), 5) == b"\x05\x00\x05\x00\x00\x01" + bytes(
        6
    )
    writer.write(b"GET /socks HTTP/1.0\r\n\r\n")
    assert (await asyncio.wait_for(reader.read(), 5)).endswith(b"GET /socks HTTP/1.0")


async def test_a_restarted_gate_takes_its_old_ports_back(tmp_path):
    first = await open_gate(["pypi.org"], tmp_path / "ports.json")
    ports = (first.http_port, first.socks_port)
    await first.close()
    second = await open_gate(["pypi.org"], tmp_path / "ports.json")
    await second.close()
    assert (second.http_port, second.socks_port) == ports


async def test_a_listed_host_that_does_not_answer_gets_a_bad_gateway(gate):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: the connection is refused
        reader, _ = await exchange(
            gate.http_port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode()
        )
        assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 502")


async def test_closing_the_gate_cuts_live_tunnels_at_once(origin):
    gate = await NetworkGate(("127.0.0.1",)).start()
    reader, _ = await exchange(
        gate.http_port, f"CONNECT 127.0.0.1:{origin} HTTP/1.1\r\n\r\n".encode()
    )
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # the tunnel is up and idle
    await asyncio.wait_for(gate.close(), 5)
    assert await asyncio.wait_for(reader.read(), 5) == b""
