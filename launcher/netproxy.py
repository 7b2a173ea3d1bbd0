"""The agents' network gate when it is limited to a list of hosts: allow or refuse, never ask.

Claude Code's sandbox routes its commands' traffic through an HTTP and a SOCKS5
proxy. Its own proxies ask a person in the pane about any host off the list;
ours, given to it as `httpProxyPort` / `socksProxyPort`, answers at once: a
listed host is connected, any other refused with a message the command prints.
One gate per launcher serves all its agents. Only used when
`network_allowed_domains` is not the open network.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from claude_config.confinement import host_allowed

log = logging.getLogger("heph.netproxy")
BUFFER = 64 * 1024
HEADER_SECONDS = 30  # a client that never finishes its request is dropped
CONNECT_SECONDS = 15
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
REFUSED = "blocked by Hephaestus: {host} is not in network_allowed_domains"


@dataclass
class NetworkGate:
    """An HTTP (CONNECT and plain) and a SOCKS5 proxy on loopback that enforce a host list."""

    patterns: tuple[str, ...]
    http_port: int = 0
    socks_port: int = 0
    refused: deque[str] = field(default_factory=lambda: deque(maxlen=100))  # latest refusals
    _servers: list[asyncio.Server] = field(default_factory=list)
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> NetworkGate:
        """Listen on the ports asked for (a restarted launcher's agents still use the old
        ones), or on free ones when those are taken."""
        http = await _listen(self._http, self.http_port)
        socks = await _listen(self._socks, self.socks_port)
        self._servers = [http, socks]
        self.http_port = http.sockets[0].getsockname()[1]
        self.socks_port = socks.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and cut live tunnels (newer Pythons wait for them otherwise)."""
        for server in self._servers:
            server.close()
        for writer in list(self._open):
            writer.close()
        for server in self._servers:
            await server.wait_closed()

    def _admit(self, host: str) -> bool:
        if host_allowed(host, self.patterns):
            return True
        self.refused.append(host)
        log.info("refused a connection to %s (not in network_allowed_domains)", host)
        return False

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._guarded(self._serve_http, reader, writer)

    async def _socks(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._guarded(self._serve_socks, reader, writer)

    async def _guarded(
        self, serve: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """One client connection, tracked so `close` can cut it; a client that goes away or
        speaks nonsense only ends its own connection."""
        self._open.add(writer)
        try:
            await serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            log.debug("proxy connection ended: %s", exc)
        finally:
            self._open.discard(writer)
            writer.close()

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEADER_SECONDS)
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        host, port = _http_target(method, target)
        if not self._admit(host):
            await _answer_http(writer, 403, REFUSED.format(host=host))
            return
        try:
            upstream = await _connect(host, port)
        except OSError as exc:
            await _answer_http(writer, 502, f"cannot reach {host}:{port}: {exc}")
            return
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            upstream[1].write(_origin_form(head))
        await _pipe(reader, writer, *upstream)

    async def _serve_socks(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        methods = await asyncio.wait_for(reader.readexactly(2), HEADER_SECONDS)
        await reader.readexactly(methods[1])
        writer.write(b"\x05\x00")  # no authentication
        host, port = await _socks_target(reader)
        if not self._admit(host):
            writer.write(b"\x05\x02\x00\x01" + bytes(6))  # connection not allowed
            await writer.drain()
            return
        try:
            upstream = await _connect(host, port)
        except OSError:
            writer.write(b"\x05\x04\x00\x01" + bytes(6))  # host unreachable
            await writer.drain()
            return
        writer.write(b"\x05\x00\x00\x01" + bytes(6))
        await _pipe(reader, writer, *upstream)


async def _listen(handler: Handler, port: int) -> asyncio.Server:
    try:
        return await asyncio.start_server(handler, "127.0.0.1", port)
    except OSError as exc:
        log.warning(
            "network gate: port %s is taken (%s); agents started before this launcher keep"
            " using it and lose the network until they are retried",
            port,
            exc,
        )
        return await asyncio.start_server(handler, "127.0.0.1", 0)


def _http_target(method: str, target: str) -> tuple[str, int]:
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        return host.strip("[]"), int(port)
    rest = target.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "80")
    return host, int(port or 80)


def _origin_form(head: bytes) -> bytes:
    """A proxied request names the whole URL; the server expects only its path."""
    line, rest = head.split(b"\r\n", 1)
    method, target, version = line.split(b" ", 2)
    _, _, path = target.split(b"://", 1)[-1].partition(b"/")
    return b" ".join((method, b"/" + path, version)) + b"\r\n" + rest


async def _socks_target(reader: asyncio.StreamReader) -> tuple[str, int]:
    _version, _command, _reserved, kind = await reader.readexactly(4)
    if kind == 1:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif kind == 4:
        host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
    else:
        length = (await reader.readexactly(1))[0]
        host = (await reader.readexactly(length)).decode("idna")
    (port,) = struct.unpack("!H", await reader.readexactly(2))
    return host, port


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_SECONDS)
    except TimeoutError:
        raise OSError(f"no answer within {CONNECT_SECONDS}s") from None


async def _answer_http(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    reason = {403: "Forbidden", 502: "Bad Gateway"}[status]
    body = (text + "\n").encode()
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until either side closes."""

    async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(BUFFER):
                sink.write(data)
                await sink.drain()
        with contextlib.suppress(OSError):
            if sink.can_write_eof():
                sink.write_eof()

    try:
        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
    finally:
        up_writer.close()


async def open_gate(patterns: Iterable[str], ports_file: Path) -> NetworkGate:
    """Start the gate, on the ports it had before if it can; remember them for next time."""
    try:
        http, socks = json.loads(ports_file.read_text())
    except (OSError, ValueError):
        http, socks = 0, 0
    gate = await NetworkGate(tuple(patterns), http, socks).start()
    ports_file.parent.mkdir(parents=True, exist_ok=True)
    ports_file.write_text(json.dumps([gate.http_port, gate.socks_port]))
    return gate
