"""`mode tcp`: bytes forwarded both ways (configuration.txt §4 "mode").

Invariants:
- at most one write side is paused per direction: when a side's transport
  goes above its high-water mark (``pause_writing``) the other side stops
  reading until ``resume_writing``;
- a read EOF on one side becomes ``write_eof()`` on the other (half-close);
  both transports close once both directions ended or either side fails;
- once connected, the stream expires after ``idle`` without activity in
  either direction, the shorter of the timeouts of the sides still reading
  (haproxy 2.6 refreshes both sides' timeouts on any transfer and closes an
  idle stream at the shorter one): ``timeout client`` / ``server``, both
  replaced by ``timeout tunnel`` (if set), and a side whose peer
  half-closed uses ``timeout client-fin`` / ``server-fin`` (if set);
  ``timeout connect`` applies while connecting, per attempt (a timed-out
  or refused attempt is retried as ``retries`` / ``option redispatch`` say);
- ``option abortonclose``: a client FIN while queued or connecting aborts.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT
    from pyhaproxy.dataplane.routing import FrontendRT


class TcpServerSide(asyncio.Protocol):
    __slots__ = ("sess", "transport")

    def __init__(self, sess: TcpSession) -> None:
        self.sess = sess
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        sess = self.sess
        sess.wheel.arm(sess, sess.idle)
        sess.transport.write(data)

    def eof_received(self) -> bool:
        self.sess.half_close(from_client=False)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.sess.server_lost()

    def pause_writing(self) -> None:
        self.sess.transport.pause_reading()

    def resume_writing(self) -> None:
        self.sess.transport.resume_reading()


class TcpSession(asyncio.Protocol):
    """The client side of a TCP stream, owning the stream's state."""

    __slots__ = (
        "fe",
        "wheel",
        "transport",
        "server",
        "srv",
        "pending",
        "client_eof",
        "server_eof",
        "closed",
        "deadline",
        "timer_slot",
        "timeout_client",
        "timeout_server",
        "idle",
        "task",
        "tries",
        "be",
        "listener",
    )

    def __init__(self, fe: FrontendRT) -> None:
        self.fe = fe
        self.listener = None
        self.wheel = fe.runtime.wheel
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: TcpServerSide | None = None
        self.srv: ServerRT | None = None
        self.pending: list[bytes] | None = []
        self.client_eof = self.server_eof = self.closed = False
        self.deadline: float | None = None
        self.timer_slot: int | None = None
        self.timeout_client = fe.timeout_client
        self.timeout_server = fe.backend.timeout_server if fe.backend else None
        self.idle: int | None = None  # the inactivity timeout (``_timeouts``)
        self.task: asyncio.Task | None = None
        self.tries = 0  # failed connect attempts (retries, redispatch)
        self.be = fe.backend  # use_backend rules on `src` may change it

    # ---- protocol interface (client side) ----------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.fe.runtime.sessions.add(self)
        be = self.be
        if self.fe.switch:
            be = self.be = self.fe.select_tcp(transport)
            if be is not None:
                self.timeout_server = be.timeout_server
        if be is None or not be.assign(self):
            self.close()

    def data_received(self, data: bytes) -> None:
        server = self.server
        if server is not None:
            self.wheel.arm(self, self.idle)
            server.transport.write(data)
        elif self.pending is not None:
            self.pending.append(data)
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.half_close(from_client=True)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def pause_writing(self) -> None:
        if self.server is not None:
            self.server.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.server is not None:
            self.server.transport.resume_reading()

    # ---- stream logic -------------------------------------------------------

    def dequeued(self, srv: ServerRT, delay: float = 0.0) -> None:
        be = srv.backend
        self.srv = srv
        # `timeout connect` per attempt, after the turn-around delay
        self.wheel.arm(self, (be.timeout_connect or 0) and be.timeout_connect + int(delay * 1000))
        self.task = self.fe.runtime.loop.create_task(
            srv.connect(lambda: TcpServerSide(self), delay, self.transport)
        )
        self.task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task) -> None:
        if task is not self.task:
            return  # an attempt given up (timed out) before it completed
        self.task = None
        if task.cancelled():
            self.close()
            return
        if task.exception() is not None:
            self._connect_failed()
            return
        server = task.result()
        if self.closed:
            server.transport.close()
            return
        self.server = server
        be = self.srv.backend  # type: ignore[union-attr]
        if be.timeout_tunnel:
            # no tcp-request content analyser: a tunnel from now on, whose
            # timeout supersedes client and server (configuration.txt)
            self.timeout_client = self.timeout_server = be.timeout_tunnel
        pending, self.pending = self.pending, None
        if pending:
            server.transport.write(b"".join(pending))
        if self.client_eof:
            server.transport.write_eof()
            if be.timeout_server_fin:
                self.timeout_server = be.timeout_server_fin
        else:
            self.transport.resume_reading()
        self._timeouts()

    def _connect_failed(self, timed_out: bool = False) -> None:
        """A connect attempt was refused or timed out: retry, maybe on
        another server (``BackendRT.retry``), or give up."""
        srv = self.srv
        assert srv is not None
        be = srv.backend
        self.tries += 1
        step = be.retry(srv, self.tries, timed_out)
        if step is None:
            self.close()
            return
        redispatch, delay = step
        if not redispatch:
            self.dequeued(srv, delay)
            return
        self.srv = None
        be.release(srv)
        if not be.assign(self, avoid=srv):
            self.close()

    def half_close(self, from_client: bool) -> None:
        be = self.be
        if from_client:
            self.client_eof = True
            if self.server is None and be is not None and be.abortonclose:
                self.close()  # still queued or connecting: abort (option abortonclose)
                return
            if self.server is not None and not self.server.transport.is_closing():
                self.server.transport.write_eof()
                # the server side is half-closed now: `timeout server-fin`
                if be is not None and be.timeout_server_fin:
                    self.timeout_server = be.timeout_server_fin
                self._timeouts()
        else:
            self.server_eof = True
            if not self.transport.is_closing():
                self.transport.write_eof()
                if self.fe.timeout_client_fin:
                    self.timeout_client = self.fe.timeout_client_fin
                self._timeouts()
        if self.client_eof and self.server_eof:
            self.close()

    def _timeouts(self) -> None:
        """Recompute ``idle`` from the sides still reading, and re-arm."""
        live = []
        if not self.client_eof and self.timeout_client:
            live.append(self.timeout_client)
        if not self.server_eof and self.timeout_server:
            live.append(self.timeout_server)
        self.idle = min(live) if live else None
        self.wheel.arm(self, self.idle)

    def server_lost(self) -> None:
        if not self.server_eof:
            self.server_eof = True
        self.close()

    def on_timeout(self) -> None:
        task = self.task
        if task is not None and self.server is None:
            # `timeout connect`: a failed attempt, retried as a refused one
            self.task = None
            task.cancel()
            self._connect_failed(timed_out=True)
            return
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.deadline = None
        fe = self.fe
        if self.task is not None:
            self.task.cancel()
        elif self.srv is None and self.be is not None:
            self.be.unqueue(self)
        if self.srv is not None:
            self.srv.backend.release(self.srv)
        if self.server is not None:
            self.server.transport.close()
        self.transport.close()
        fe.runtime.session_done(self)

    def soft_close(self) -> None:
        """Soft stop: a TCP stream is left to finish."""
