"""WebSocket through the proxy, `timeout tunnel`, `timeout client-fin` and
`timeout server-fin` (configuration.txt §4.2), each checked against Debian's
haproxy too (the ``proxy`` fixture)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.dataplane.servers import Background, echo_tcp
from tests.dataplane.wsutil import WsClient, proxy, ws_echo  # noqa: F401


def _cfg(port: int, server_port: int, mode: str, extra: str = "", client="10s", server="10s"):
    return f"""
defaults
    mode {mode}
    timeout connect 2s
    timeout client {client}
    timeout server {server}
{extra}
listen li
    bind 127.0.0.1:{port}
    server s1 127.0.0.1:{server_port}
"""


def _wait_closed(sock: socket.socket, limit: float = 10.0) -> float:
    """Seconds until the peer closes ``sock`` (reading whatever comes)."""
    t0 = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - t0


def test_websocket_handshake_and_echo(proxy, port):  # noqa: F811
    srv = Background(ws_echo)
    try:
        proxy(_cfg(port, srv.port, "http"), port)
        ws = WsClient(port)
        try:
            assert ws.echo(b"hello") == b"hello"
            big = bytes(range(256)) * 1000  # 64-bit length frame
            assert ws.echo(big, opcode=2) == big
            assert ws.echo(b"ping!", opcode=9) == b"ping!"  # answered by a pong
            ws.send(8, b"\x03\xe8")
            assert ws.recv() == (8, b"\x03\xe8")
            assert _wait_closed(ws.sock) < 5
        finally:
            ws.close()
        assert srv.stats.requests == 1
    finally:
        srv.close()


def test_tunnel_timeout_supersedes_client_and_server_after_upgrade(proxy, port):  # noqa: F811
    srv = Background(ws_echo)
    try:
        conf = _cfg(port, srv.port, "http", "    timeout tunnel 1500ms", "300ms", "300ms")
        proxy(conf, port)
        ws = WsClient(port)
        try:
            time.sleep(0.8)  # longer than client and server timeouts
            assert ws.echo(b"still here") == b"still here"
            idle = _wait_closed(ws.sock)
            assert 1.2 < idle < 3.5, idle
        finally:
            ws.close()
    finally:
        srv.close()


def test_tunnel_timeout_in_tcp_mode(proxy, port):  # noqa: F811
    srv = Background(echo_tcp)
    try:
        proxy(_cfg(port, srv.port, "tcp", "    timeout tunnel 1500ms", "300ms", "300ms"), port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"one")
            assert s.recv(10) == b"one"
            time.sleep(0.8)
            s.sendall(b"two")
            assert s.recv(10) == b"two"
            idle = _wait_closed(s)
            assert 1.2 < idle < 3.5, idle
    finally:
        srv.close()


def _half_closing_server(closed_at: list[float]):
    """Sends ``hello`` then its FIN, and records when the proxy closes."""

    async def handle(reader, writer, stats) -> None:
        writer.write(b"hello")
        await writer.drain()
        writer.write_eof()
        try:
            while await reader.read(65536):
                pass
        finally:
            closed_at.append(time.monotonic())

    return handle


def test_client_fin_timeout_after_the_server_closed_its_side(proxy, port):  # noqa: F811
    closed_at: list[float] = []
    srv = Background(_half_closing_server(closed_at))
    try:
        proxy(_cfg(port, srv.port, "tcp", "    timeout client-fin 400ms"), port)
        time.sleep(0.3)
        closed_at.clear()  # the stream of the probe waiting for the port
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            data = b""
            while chunk := s.recv(100):  # hello, then the forwarded FIN
                data += chunk
            assert data == b"hello"
            t0 = time.monotonic()
            # the client neither sends nor closes: `timeout client-fin`, not
            # `timeout client` (10s), ends the stream
            deadline = time.monotonic() + 5
            while not closed_at and time.monotonic() < deadline:
                time.sleep(0.02)
            assert closed_at, "the proxy kept the half-closed stream"
            assert 0.2 < closed_at[0] - t0 < 2.0
    finally:
        srv.close()


def test_server_fin_timeout_after_the_client_closed_its_side(proxy, port):  # noqa: F811
    async def silent(reader, writer, stats) -> None:
        while await reader.read(65536):
            pass
        await asyncio.sleep(30)  # neither answers nor closes

    srv = Background(silent)
    try:
        proxy(_cfg(port, srv.port, "tcp", "    timeout server-fin 400ms"), port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"bye")
            s.shutdown(socket.SHUT_WR)
            idle = _wait_closed(s)
            assert 0.2 < idle < 2.0, idle
    finally:
        srv.close()


async def _upgrade_then_count(reader, writer, stats) -> None:
    """Switches protocols, reads until the client's FIN, then answers how
    many bytes came, and closes."""
    await reader.readuntil(b"\r\n\r\n")
    stats.requests += 1
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
    got = 0
    while chunk := await reader.read(65536):
        got += len(chunk)
    writer.write(b"got %d" % got)
    await writer.drain()


def test_half_close_in_an_http_tunnel_goes_on_to_the_server(proxy, port):  # noqa: F811
    srv = Background(_upgrade_then_count)
    try:
        proxy(_cfg(port, srv.port, "http"), port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            assert head.startswith(b"HTTP/1.1 101 ")
            s.sendall(b"abc" * 1000)
            s.shutdown(socket.SHUT_WR)  # the answer still comes back
            data = head.partition(b"\r\n\r\n")[2]
            while chunk := s.recv(65536):
                data += chunk
        assert data == b"got 3000"
    finally:
        srv.close()


def _speaks_first(reader, writer, stats):
    """Greets, then reads without ever answering."""

    async def run():
        writer.write(b"hi")
        await writer.drain()
        while await reader.read(65536):
            pass

    return run()


@pytest.mark.parametrize("who", ["client", "server"])
def test_idle_tcp_stream_ends_at_the_shorter_timeout(proxy, port, who):  # noqa: F811
    """Whichever side spoke last, an idle stream ends after the shorter of
    `timeout client` and `timeout server` (as Debian haproxy 2.6 does)."""
    srv = Background(_speaks_first)
    try:
        client, server = ("5s", "500ms") if who == "client" else ("500ms", "5s")
        proxy(_cfg(port, srv.port, "tcp", client=client, server=server), port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            assert s.recv(10) == b"hi"
            if who == "client":
                s.sendall(b"x")  # the client speaks last
            idle = _wait_closed(s)
            assert 0.3 < idle < 3.0, idle
    finally:
        srv.close()
