"""A minimal RFC 6455 WebSocket echo server and client, and a fixture
running a test against pyhaproxy and, where installed, Debian's haproxy."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import struct

import pytest

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """One final frame (RFC 6455 §5.2); clients mask, servers do not."""
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, bit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, bit | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, bit | 127, n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return head + mask + payload
    return head + payload


async def ws_echo(reader, writer, stats) -> None:
    """Handshake, then echo text/binary frames, answer pings, close on close."""
    head = await reader.readuntil(b"\r\n\r\n")
    key = re.search(rb"(?im)^sec-websocket-key:[ \t]*(\S+)", head)
    if key is None or b"upgrade: websocket" not in head.lower():
        writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
        return
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(key.group(1)) + b"\r\n\r\n"
    )
    stats.requests += 1
    while True:
        b0, b1 = await reader.readexactly(2)
        opcode, n = b0 & 0x0F, b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await reader.readexactly(8))
        mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
        data = await reader.readexactly(n)
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        writer.write(frame(10 if opcode == 9 else opcode, payload))
        await writer.drain()
        if opcode == 8:
            return


class WsClient:
    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(
            b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, f"closed during the handshake: {self.buf!r}"
            self.buf += chunk
        self.head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        assert self.head.startswith(b"HTTP/1.1 101 "), self.head
        accept = re.search(rb"(?im)^sec-websocket-accept:[ \t]*(\S+)", self.head)
        assert accept is not None and accept.group(1) == accept_key(key)

    def _need(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, opcode: int, payload: bytes) -> None:
        self.sock.sendall(frame(opcode, payload, os.urandom(4)))

    def recv(self) -> tuple[int, bytes]:
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._need(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._need(8))
        return b0 & 0x0F, self._need(n)

    def echo(self, payload: bytes, opcode: int = 1) -> bytes:
        self.send(opcode, payload)
        got_op, got = self.recv()
        assert got_op == (10 if opcode == 9 else opcode)
        return got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["pyhaproxy", "haproxy"])
def proxy(request, launcher):
    """``proxy(cfg, port)`` starts pyhaproxy, or Debian's haproxy (skipped
    where not installed): the same test checks both behave alike."""

    def start(cfg: str, port: int):
        if request.param == "haproxy":
            return launcher.haproxy(cfg, wait=port)
        return launcher.start(cfg, wait=port)

    return start
