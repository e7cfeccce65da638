"""Real servers for data-plane tests: asyncio servers on a background loop."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


def _port_slice() -> range:
    """This test process's own ports: 20000-32000 (below the ephemeral
    range 32768-60999, so outgoing connections never take one) cut into one
    slice per xdist worker.  haproxy and pyhaproxy bind with SO_REUSEPORT,
    so two tests given the same port would both bind it and the kernel would
    split their connections: ports must never be shared between workers."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = 12000 // max(count, 1)
    return range(20000 + index * size, 20000 + (index + 1) * size)


_PORTS = _port_slice()
_next = [random.randrange(len(_PORTS))]


def free_port() -> int:
    """A free loopback port of this worker's slice, handed out in turn so
    that a port comes back only after the whole slice was used."""
    for _ in range(len(_PORTS)):
        port = _PORTS[_next[0] % len(_PORTS)]
        _next[0] += 1
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
                return port
        except OSError:
            continue
    raise RuntimeError(f"no free port in {_PORTS.start}-{_PORTS.stop - 1}")


@dataclass
class Stats:
    connections: int = 0
    requests: int = 0
    paths: list[str] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)


class Background:
    """An asyncio loop in a thread serving one handler on a loopback port."""

    def __init__(
        self, handler: Callable[..., Awaitable[None]], port: int | None = None, host="127.0.0.1"
    ) -> None:
        self.port = port or free_port()
        self.host = host
        self.stats = Stats()
        self.loop = asyncio.new_event_loop()
        self._handler = handler
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def wrapped(reader, writer):
            self.stats.connections += 1
            try:
                await self._handler(reader, writer, self.stats)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        self.server = self.loop.run_until_complete(
            asyncio.start_server(wrapped, self.host, self.port, limit=1 << 20)
        )
        self._ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        def stop():
            self.server.close()
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.call_later(0.05, self.loop.stop)

        self.loop.call_soon_threadsafe(stop)
        self._thread.join(5)


async def echo_tcp(reader, writer, stats: Stats) -> None:
    """Echo bytes; on the client's EOF answer ``BYE`` and close."""
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.write(b"BYE")
    await writer.drain()


async def _read_body(reader, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readline()
    return b""


def http_app(name: str) -> Callable[..., Awaitable[None]]:
    """A small HTTP/1.1 server: keep-alive, content-length and chunked bodies.

    ``/echo`` returns the request body, ``/chunked`` answers chunked,
    ``/slow/<s>`` waits, ``/204`` ``/304`` answer without body, ``/close``
    closes without answering, ``/upgrade`` switches to an echo protocol;
    others name the server and the body digest.
    """

    async def handle(reader, writer, stats: Stats) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            method, path, version = line.decode().split()
            headers: dict[str, str] = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b""):
                    break
                k, v = h.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            body = await _read_body(reader, headers)
            stats.requests += 1
            stats.paths.append(path)
            stats.started.set()
            conn = headers.get("connection", "").lower()
            keep = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
            if path == "/close":
                return
            if path == "/upgrade":
                writer.write(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n"
                    b"Connection: Upgrade\r\n\r\n"
                )
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
                return
            status, extra, chunks = "200 OK", "", None
            if path == "/echo":
                payload = body
            elif path == "/chunked":
                chunks = [b"chunk-%d;" % i for i in range(5)]
                payload = b""
            elif path.startswith("/slow/"):
                await asyncio.sleep(float(path[6:].split("?")[0]))
                payload = b"slow done"
            elif path in ("/204", "/304"):
                status = "204 No Content" if path == "/204" else "304 Not Modified"
                payload = b""
            else:
                digest = hashlib.sha256(body).hexdigest()[:16]
                payload = f"{name} {method} {path} len={len(body)} sha={digest}".encode()
            if chunks is not None:
                head = f"HTTP/1.1 {status}\r\nTransfer-Encoding: chunked\r\n"
            elif path in ("/204", "/304"):
                head = f"HTTP/1.1 {status}\r\n"
            else:
                head = f"HTTP/1.1 {status}\r\nContent-Length: {len(payload)}\r\n{extra}"
            if not keep:
                head += "Connection: close\r\n"
            writer.write(head.encode() + b"\r\n")
            if chunks is not None:
                for c in chunks:
                    writer.write(b"%x\r\n%s\r\n" % (len(c), c))
                writer.write(b"0\r\n\r\n")
            elif method != "HEAD":
                writer.write(payload)
            await writer.drain()
            if not keep:
                return

    return handle
