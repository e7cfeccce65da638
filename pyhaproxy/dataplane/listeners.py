"""Listening sockets from `bind` lines (configuration.txt §4.2 "bind", §5.1).

Addresses: IPv4/IPv6 (``*``/empty host: any address), port ranges (one
socket per port), unix socket paths, ``fd@N`` (an inherited socket).
Options acted on: ``backlog``, ``maxconn``, ``v4v6``, ``v6only``, ``name``;
the frontend's and the global ``maxconn`` are limits shared by listeners.

A listener at its ``maxconn`` stops accepting (new connections wait in the
kernel backlog) and resumes below it, as HAProxy pauses a full listener: the
uvloop server runs on a duplicate of the socket, closed while paused.  The
pause takes effect after the current accept batch, so a burst may exceed
``maxconn`` by the connections accepted in the same loop iteration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyhaproxy.config.model import Address, Bind

DEFAULT_BACKLOG = 1024


class BindError(Exception):
    """``(strerror, address text)`` of a socket that could not be bound."""


class Limit:
    """A connection limit shared by listeners: a bind line's ``maxconn``, a
    frontend's ``maxconn``, the global ``maxconn``.  When full, every listener
    under it stops accepting; each resumes once all its limits have room."""

    __slots__ = ("maxconn", "cur", "listeners")

    def __init__(self, maxconn: int) -> None:
        self.maxconn = maxconn
        self.cur = 0
        self.listeners: list[Listener] = []

    def full(self) -> bool:
        return bool(self.maxconn) and self.cur >= self.maxconn

    def resize(self, maxconn: int) -> None:
        """A new ``maxconn`` at run time (``set maxconn``): the listeners
        under it pause if it is full now, or resume if it has room."""
        self.maxconn = maxconn
        full = self.full()
        for lst in self.listeners:
            if full:
                lst.pause()
            else:
                lst.maybe_resume()


class Listener:
    __slots__ = (
        "name",
        "sock",
        "backlog",
        "limits",
        "server",
        "factory",
        "paused",
        "_op",
        "owned",
        "ssl",
        "ssl_timeout",
        "disabled",
    )

    def __init__(
        self, name: str, sock: socket.socket, backlog: int, maxconn: int, owned: bool = True
    ) -> None:
        self.name = name
        self.sock = sock
        # False for a worker's copy of a master's socket: closing it leaves
        # a unix socket's path in place
        self.owned = owned
        # the bind line's SSLContext (pyhaproxy/tls, built once) and the
        # handshake's limit in seconds ("timeout client")
        self.ssl: Any = None
        self.ssl_timeout: float | None = None
        self.backlog = backlog
        self.limits: list[Limit] = []
        if maxconn:
            self.add_limit(Limit(maxconn))
        self.server: asyncio.AbstractServer | None = None
        self.factory: Callable[[], asyncio.Protocol] | None = None
        self.paused = False
        self.disabled = False  # "disable frontend": paused until enabled
        self._op: asyncio.Task | None = None

    def add_limit(self, limit: Limit) -> None:
        if limit.maxconn:
            self.limits.append(limit)
            limit.listeners.append(self)

    async def start(self, factory: Callable[[], asyncio.Protocol]) -> None:
        self.factory = factory
        loop = asyncio.get_running_loop()
        tls = {"ssl": self.ssl, "ssl_handshake_timeout": self.ssl_timeout} if self.ssl else {}
        self.server = await loop.create_server(
            factory, sock=self.sock.dup(), backlog=self.backlog, **tls
        )

    def accepted(self) -> None:
        for limit in self.limits:
            limit.cur += 1
            if limit.full():
                for lst in limit.listeners:
                    lst.pause()

    def pause(self) -> None:
        if not self.paused:
            # uvloop attaches the transport after this factory call: close later
            self.paused = True
            asyncio.get_running_loop().call_soon(self._pause)

    def _pause(self) -> None:
        if self.paused and self.server is not None:
            self.server.close()
            self.server = None

    def released(self) -> None:
        for limit in self.limits:
            was_full = limit.full()
            limit.cur -= 1
            if was_full:
                for lst in limit.listeners:
                    lst.maybe_resume()

    def maybe_resume(self) -> None:
        if (
            not self.paused
            or self.disabled
            or self.factory is None
            or any(lim.full() for lim in self.limits)
        ):
            return
        self.paused = False
        if self.server is None and self._op is None:
            self._op = asyncio.get_running_loop().create_task(self._resume())

    async def _resume(self) -> None:
        try:
            if self.sock.fileno() >= 0 and self.factory is not None:
                await self.start(self.factory)
        finally:
            self._op = None
        if self.paused and self.server is not None:
            self._pause()  # filled up again meanwhile

    def disable(self) -> None:
        """Stop accepting until ``enable()`` (``disable frontend``).  A TCP
        socket this process owns stops listening, so that connections are
        refused as HAProxy's paused listeners refuse them (its
        ``shutdown(SHUT_RD)``; ``listen()`` again resumes); a unix socket, or
        a socket shared with other workers, only stops being accepted from
        here (connections wait in its backlog, or go to the other workers)."""
        self.disabled = self.paused = True
        self._pause()
        if self.owned and self.sock.family != socket.AF_UNIX and self.sock.fileno() >= 0:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RD)

    def enable(self) -> None:
        """Accept again after ``disable()`` (when the limits have room)."""
        if not self.disabled:
            return
        self.disabled = False
        if self.owned and self.sock.family != socket.AF_UNIX and self.sock.fileno() >= 0:
            self.sock.listen(self.backlog)
        self.maybe_resume()

    def close(self) -> None:
        self.factory = None
        if self.server is not None:
            self.server.close()
            self.server = None
        if self._op is not None:
            self._op.cancel()
        if self.owned and self.sock.family == socket.AF_UNIX:
            path = self.sock.getsockname()
            if isinstance(path, str) and path:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        self.sock.close()


def _text(addr: Address, port: int) -> str:
    if addr.family in ("unix", "fd"):
        return addr.text
    host = addr.host or ("::" if addr.family == "ipv6" else "0.0.0.0")
    return f"[{host}:{port}]"


def _bind_inet(addr: Address, port: int, opts: dict[str, Any]) -> socket.socket:
    v6 = addr.family == "ipv6"
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # as HAProxy on Linux (unless "noreuseport"): a process started with
        # -sf/-st binds beside the one it replaces
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if v6 and opts.get("v6only"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        elif v6 and opts.get("v4v6"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((addr.host or ("::" if v6 else "0.0.0.0"), port))
    except OSError:
        sock.close()
        raise
    return sock


def _bind_unix(path: str) -> socket.socket:
    with contextlib.suppress(OSError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)  # a stale socket from a previous run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except OSError:
        sock.close()
        raise
    return sock


def open_bind(bind: Bind, default_backlog: int) -> list[Listener]:
    """Bind every address of a ``bind`` line; raises BindError on failure."""
    opts = bind.options
    backlog = opts.get("backlog") or default_backlog or DEFAULT_BACKLOG
    maxconn = opts.get("maxconn") or 0
    name = opts.get("name", "")
    out: list[Listener] = []
    try:
        for addr in bind.addresses:
            if addr.family == "fd":
                sock = socket.socket(fileno=int(addr.host))
                out.append(Listener(name, sock, backlog, maxconn))
                continue
            if addr.family == "unix":
                try:
                    sock = _bind_unix(addr.host)
                except OSError as exc:
                    raise BindError(exc.strerror, f"[{addr.host}]") from None
                out.append(Listener(name, sock, backlog, maxconn))
                continue
            if addr.family == "abns":
                raise BindError("abstract namespace sockets not implemented yet", addr.text)
            for port in range(addr.port_low, max(addr.port_high, addr.port_low) + 1):
                try:
                    sock = _bind_inet(addr, port, opts)
                except OSError as exc:
                    raise BindError(exc.strerror, _text(addr, port)) from None
                out.append(Listener(name, sock, backlog, maxconn))
    except BindError:
        for lst in out:
            lst.sock.close()
        raise
    for lst in out:
        lst.sock.setblocking(False)
    return out
