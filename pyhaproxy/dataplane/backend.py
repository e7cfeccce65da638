"""Runtime backends and servers: usable state, connection slots, the queue.

A server "slot" is taken by a stream from the moment a server is chosen until
its exchange ends (TCP: the connection; HTTP: one request/response), which is
what ``maxconn`` limits (configuration.txt §5.2 "maxconn").  When every usable
server is full, the stream waits in the backend queue until a slot frees or
``timeout queue`` (default: ``timeout connect``) expires.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import TYPE_CHECKING, Any

from pyhaproxy.dataplane.errors import build_pages
from pyhaproxy.dataplane.lb import RoundRobin
from pyhaproxy.dataplane.pool import Pool

if TYPE_CHECKING:
    from pyhaproxy.config.model import Proxy, Server


class ServerRT:
    """A server as the data plane sees it; counters are plain attributes."""

    __slots__ = (
        "name",
        "backend",
        "family",
        "host",
        "port",
        "weight",
        "backup",
        "enabled",
        "maxconn",
        "cur",
        "total",
        "pool",
    )

    def __init__(self, srv: Server, backend: BackendRT) -> None:
        addr = srv.address
        assert addr is not None
        opts = srv.options
        self.name = srv.name
        self.backend = backend
        self.family = addr.family
        self.host = addr.host
        self.port = addr.port
        self.weight = opts.get("weight", 1)
        self.backup = bool(opts.get("backup")) and not opts.get("no-backup")
        self.enabled = not (opts.get("disabled") and not opts.get("enabled"))
        self.maxconn = opts.get("maxconn") or 0
        self.cur = 0
        self.total = 0
        self.pool = Pool()

    def usable(self) -> bool:
        return self.enabled and self.weight > 0 and (not self.maxconn or self.cur < self.maxconn)

    async def connect(self, factory: Any, retries: int, turnaround: float) -> Any:
        """Open a connection, retrying ``retries`` times after ``turnaround``
        seconds on failure (configuration.txt §4.2 "retries")."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                if self.family == "unix":
                    _, proto = await loop.create_unix_connection(factory, self.host)
                else:
                    _, proto = await loop.create_connection(factory, self.host, self.port)
                return proto
            except OSError:
                if attempt >= retries:
                    raise
                attempt += 1
                await asyncio.sleep(turnaround)


class BackendRT:
    __slots__ = (
        "name",
        "mode",
        "servers",
        "lb",
        "queue",
        "timeout_server",
        "timeout_connect",
        "timeout_queue",
        "retries",
        "turnaround",
        "reuse",
        "pages",
    )

    def __init__(self, px: Proxy) -> None:
        t = px.settings.timeouts
        self.name = px.name
        self.mode = px.mode
        self.servers = [ServerRT(s, self) for s in px.servers]
        self.lb = RoundRobin(self.servers)
        self.queue: deque[Any] = deque()
        self.timeout_server = t.get("server")
        self.timeout_connect = t.get("connect")
        self.timeout_queue = t.get("queue") or self.timeout_connect
        self.retries = 3 if px.settings.retries is None else px.settings.retries
        # "a turn-around timer of min("timeout connect", one second) is applied
        # before a retry occurs" (configuration.txt §4.2 "retries")
        self.turnaround = min((self.timeout_connect or 1000) / 1000.0, 1.0)
        self.reuse = px.settings.extra.get("http-reuse", "safe")
        self.pages = build_pages(px.settings.errorfiles)  # errorfile, read once

    def acquire(self, waiter: Any) -> ServerRT | None | bool:
        """A server with a slot taken; ``True`` if ``waiter`` was queued
        (its ``dequeued(server)`` is called later); ``None``: no server."""
        srv = self.lb.pick()
        if srv is not None:
            srv.cur += 1
            srv.total += 1
            return srv
        if self.lb.has_candidates():
            self.queue.append(waiter)
            return True
        return None

    def release(self, srv: ServerRT) -> None:
        srv.cur -= 1
        queue = self.queue
        while queue:
            nxt = self.lb.pick()
            if nxt is None:
                return
            waiter = queue.popleft()
            nxt.cur += 1
            nxt.total += 1
            waiter.dequeued(nxt)

    def unqueue(self, waiter: Any) -> None:
        try:
            self.queue.remove(waiter)
        except ValueError:
            pass

    def close_idle(self) -> None:
        for s in self.servers:
            s.pool.close_all()

    def purge_idle(self) -> None:
        for s in self.servers:
            s.pool.purge()


def resolve(px: Proxy) -> None:
    """Resolve server host names once, at start (as HAProxy's init-addr last,libc)."""
    for s in px.servers:
        a = s.address
        if a is None or a.family not in ("ipv4", "ipv6") or not a.host:
            continue
        try:
            socket.inet_pton(socket.AF_INET6 if a.family == "ipv6" else socket.AF_INET, a.host)
        except OSError:
            info = socket.getaddrinfo(a.host, a.port or None, type=socket.SOCK_STREAM)
            a.host = info[0][4][0]
