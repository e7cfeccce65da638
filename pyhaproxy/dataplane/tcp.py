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
- ``option abortonclose``: a client FIN while queued or connecting aborts;
- ``tcp-request content`` rules (``FrontendRT.content``, routing.py): the
  server is chosen only once they accept; until then the client's bytes are
  kept in ``pending`` (read on, up to the buffer size) and the rules run on
  each arrival, finally when ``tcp-request inspect-delay`` expires (on the
  timer wheel), the buffer is full or the client shuts its side; ``reject``
  closes the connection (``PR``);
- logging: when the frontend logs (``log`` is not None) the session records
  what its line reads (``logformat.STREAM_FACTS``) and its termination state
  (``states.py``), and is logged once, at close.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pyhaproxy.dataplane import backend as obs  # OBS_*: ServerRT.observe codes
from pyhaproxy.dataplane.counters import failed_connect
from pyhaproxy.dataplane.routing import ACCEPT, WAIT
from pyhaproxy.log import states
from pyhaproxy.log.logformat import LOG_SLOTS

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import BackendRT, ServerRT
    from pyhaproxy.dataplane.routing import FrontendRT, TcpContent


class TcpServerSide(asyncio.Protocol):
    __slots__ = ("sess", "transport")

    def __init__(self, sess: TcpSession) -> None:
        self.sess = sess
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        sess = self.sess
        sess.fe.c.bout += len(data)
        sess.srv.c.bout += len(data)  # type: ignore[union-attr]
        sess.wheel.arm(sess, sess.idle)
        if sess.log is not None:
            sess.bytes_out += len(data)
        sess.transport.write(data)

    def eof_received(self) -> bool:
        self.sess.half_close(from_client=False)
        return self.transport.can_write_eof()  # TLS: the transport closes anyway

    def connection_lost(self, exc: Exception | None) -> None:
        sess = self.sess
        if exc is not None and sess.log is not None and not sess.term:
            sess.term = states.SERVER_ABORT_DATA  # reset by the server
        sess.server_lost()

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
        "inspect",
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
        "log",
        "born",  # loop time of the accept (runtime/sessions.py: show sess)
        # what the log line reads (logformat.STREAM_FACTS): set only when
        # the frontend logs (``log`` is not None)
        *LOG_SLOTS,
    )

    def __init__(self, fe: FrontendRT) -> None:
        self.fe = fe
        self.listener = None
        self.wheel = fe.runtime.wheel
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: TcpServerSide | None = None
        self.srv: ServerRT | None = None
        self.pending: list[bytes] | None = []
        self.inspect: TcpContent | None = None  # tcp-request content rules to pass
        self.client_eof = self.server_eof = self.closed = False
        self.deadline: float | None = None
        self.timer_slot: int | None = None
        self.timeout_client = fe.timeout_client
        self.timeout_server = fe.backend.timeout_server if fe.backend else None
        self.idle: int | None = None  # the inactivity timeout (``_timeouts``)
        self.task: asyncio.Task | None = None
        self.tries = 0  # failed connect attempts (retries, redispatch)
        self.be = fe.backend  # use_backend rules on `src` may change it
        self.log = log = fe.log  # its ProxyLog, or None: one test per event
        if log is not None:  # the facts its line reads (LOG_SLOTS), clean
            log.reset(self)
            self.addrs = None

    # ---- protocol interface (client side) ----------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        rt = self.fe.runtime
        rt.sessions.add(self)
        self.born = rt.loop.time()
        log = self.log
        if log is not None:
            self.t_accept = log.begin(self)
        be = self.be
        if self.fe.switch:
            be = self.be = self.fe.select_tcp(transport)
            if be is not None:
                self.timeout_server = be.timeout_server
        content = self.fe.content
        if content is not None:
            self.inspect = content
            if content.delay:
                self.wheel.arm(self, content.delay)  # the inspect-delay
            self._inspect(False)
            return
        self._assign(be)

    def _assign(self, be: BackendRT | None, head: bytes = b"") -> None:
        """Choose the server (``head``: the client's bytes so far, for
        ``balance rdp-cookie``) or queue; none: close."""
        log = self.log
        if be is None or not be.assign(self, head=head):
            if log is not None:
                self.term = states.NO_SERVER
            self.close()
            return
        if log is not None and self.srv is None:
            self.queued = len(be.queue)  # queued: its place in the queue

    def data_received(self, data: bytes) -> None:
        self.fe.c.bin += len(data)
        if self.log is not None:
            self.bytes_in += len(data)
        if self.srv is not None:
            self.srv.c.bin += len(data)
        server = self.server
        if server is not None:
            self.wheel.arm(self, self.idle)
            server.transport.write(data)
        elif self.pending is not None:
            self.pending.append(data)
            if self.inspect is not None:
                self._inspect(False)
            else:
                self.transport.pause_reading()

    def _inspect(self, final: bool) -> None:
        """Run the tcp-request content rules on the bytes so far (``final``:
        the inspect-delay expired or the client shut its side)."""
        content = self.inspect
        assert content is not None and self.pending is not None
        data = b"".join(self.pending) if len(self.pending) != 1 else self.pending[0]
        verdict = content.run(data, final or self.client_eof, self.transport)
        if verdict == WAIT:
            return  # more data, the delay, or the buffer full will tell
        self.inspect = None
        self.deadline = None
        if verdict != ACCEPT:  # reject: "closes the connection"
            self.fe.c.dreq += 1
            if self.log is not None:
                self.term = states.PROXY_DENY
            self.close()
            return
        self.pending = [data] if data else []
        self._assign(self.be, data)
        if not self.closed and self.server is None:
            self.transport.pause_reading()  # flow control until connected

    def eof_received(self) -> bool:
        self.half_close(from_client=True)
        return self.transport.can_write_eof()  # TLS: the transport closes anyway

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.log is not None and not self.term:
            self.term = self._abort_term()
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
        log = self.log
        if log is not None:
            self.log_srv = srv
            if not self.t_queue:  # a retry keeps the first assignment
                self.t_queue = log.clock()
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
        self.srv.c.connect += 1  # type: ignore[union-attr]
        if self.srv.observe is not None:  # type: ignore[union-attr]  # observe layer4
            self.srv.observe(obs.OBS_L4_OK)  # type: ignore[union-attr]
        if self.log is not None:
            self.t_connect = self.log.clock()
        be = self.srv.backend  # type: ignore[union-attr]
        if be.timeout_tunnel:
            # no tcp-request content analyser: a tunnel from now on, whose
            # timeout supersedes client and server (configuration.txt)
            self.timeout_client = self.timeout_server = be.timeout_tunnel
        pending, self.pending = self.pending, None
        if pending:
            server.transport.write(b"".join(pending))
        if self.client_eof and server.transport.can_write_eof():  # TLS: no half-close
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
        failed_connect(srv.c, be.c)
        if srv.observe is not None:  # observe layer4 (checks/observe.py)
            srv.observe(obs.OBS_L4_ERR)
        step = be.retry(srv, self.tries, timed_out)
        if step is None:
            if self.log is not None:
                self.term = states.SERVER_TIMEOUT_CONNECT if timed_out else states.SERVER_REFUSED
            self.close()
            return
        redispatch, delay = step
        if not redispatch:
            self.dequeued(srv, delay)
            return
        self.srv = None
        be.release(srv)
        if not be.assign(self, avoid=srv):
            if self.log is not None:
                self.term = states.NO_SERVER
            self.close()

    def half_close(self, from_client: bool) -> None:
        be = self.be
        if from_client:
            self.client_eof = True
            if self.inspect is not None:
                self._inspect(True)  # no more data will come: decide now
                if self.closed:
                    return
            if self.server is None and be is not None and be.abortonclose:
                if self.log is not None:
                    self.term = self._abort_term()
                self.close()  # still queued or connecting: abort (option abortonclose)
                return
            st = self.server.transport if self.server is not None else None
            # a TLS server connection cannot half-close: it keeps reading
            if st is not None and not st.is_closing() and st.can_write_eof():
                st.write_eof()
                # the server side is half-closed now: `timeout server-fin`
                if be is not None and be.timeout_server_fin:
                    self.timeout_server = be.timeout_server_fin
                self._timeouts()
        else:
            self.server_eof = True
            if not self.transport.is_closing():
                if self.transport.can_write_eof():
                    self.transport.write_eof()
                else:  # TLS: close_notify after the pending data, then close
                    self.transport.close()
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
        if self.inspect is not None:  # the inspect-delay expired: decide now
            self._inspect(True)
            return
        task = self.task
        if task is not None and self.server is None:
            # `timeout connect`: a failed attempt, retried as a refused one
            self.task = None
            task.cancel()
            self._connect_failed(timed_out=True)
            return
        if self.log is not None and not self.term:
            self.term = self._timeout_term()
        self.close()

    def _timeout_term(self) -> str:
        """Queued: ``sQ``; else the side whose timeout is the idle one."""
        if self.server is None:
            return states.SERVER_TIMEOUT_QUEUE
        if not self.client_eof and self.timeout_client and self.timeout_client == self.idle:
            return states.CLIENT_TIMEOUT_DATA
        return states.SERVER_TIMEOUT_DATA

    def _abort_term(self) -> str:
        """The client went away: while queued, connecting, or in the data phase."""
        if self.server is not None:
            return states.CLIENT_ABORT_DATA
        return states.CLIENT_ABORT_CONNECT if self.task is not None else states.CLIENT_ABORT_QUEUE

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
        if self.log is not None:
            self.log.stream(self)
        self.transport.close()
        fe.runtime.session_done(self)

    def soft_close(self) -> None:
        """Soft stop: a TCP stream is left to finish."""
