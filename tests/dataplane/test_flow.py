"""`Expect: 100-continue` and flow control with a slow reader, checked
against Debian's haproxy too where it makes sense (the ``proxy`` fixture)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.dataplane.servers import Background
from tests.dataplane.wsutil import proxy  # noqa: F401

CFG = """
defaults
    mode http
    timeout connect 2s
    timeout client 20s
    timeout server 20s

listen li
    bind 127.0.0.1:{port}
    server s1 127.0.0.1:{server}
"""


async def continue_server(reader, writer, stats) -> None:
    """Answers ``100 Continue`` to ``Expect: 100-continue``, then echoes the body."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lower = head.lower()
        length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        if b"expect: 100-continue" in lower:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        body = await reader.readexactly(length)
        stats.requests += 1
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()


def _head(sock: socket.socket, buf: bytes = b"") -> tuple[bytes, bytes]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        assert chunk, buf
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def test_expect_100_continue_reaches_the_client_then_the_body_flows(proxy, port):  # noqa: F811
    srv = Background(continue_server)
    try:
        proxy(CFG.format(port=port, server=srv.port), port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            for i in range(2):  # and again on the same connection
                body = b"payload-%d" % i
                s.sendall(
                    b"POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body)
                )
                head, rest = _head(s)  # the client waits: nothing sent yet
                assert head == b"HTTP/1.1 100 Continue"
                s.sendall(body)
                head, rest = _head(s, rest)
                assert head.startswith(b"HTTP/1.1 200 OK")
                while len(rest) < len(body):
                    rest += s.recv(4096)
                assert rest == body
    finally:
        srv.close()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


SIZE = 64 << 20  # 64 MiB


async def big_server(reader, writer, stats) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % SIZE)
    block = b"x" * (1 << 20)
    for _ in range(SIZE >> 20):
        writer.write(block)
        await writer.drain()


def test_slow_reader_keeps_the_proxy_memory_bounded(launcher, port):
    srv = Background(big_server)
    try:
        proc = launcher.start(CFG.format(port=port, server=srv.port), wait=port)
        time.sleep(0.3)
        base = _rss_kb(proc.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            got = 0
            peak = base
            # read slowly for a while: 64 KiB every 20 ms
            for _ in range(60):
                got += len(s.recv(65536))
                time.sleep(0.02)
                peak = max(peak, _rss_kb(proc.pid))
            time.sleep(1.0)  # and stop reading: the server must be paused
            peak = max(peak, _rss_kb(proc.pid))
            assert peak - base < 24 * 1024, (base, peak)  # far below the 64 MiB sent
            while got < SIZE + 30:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
            assert got > SIZE  # head + the whole body arrived
    finally:
        srv.close()
