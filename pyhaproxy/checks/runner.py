"""The check scheduler: one ``Check`` per checked server, rise/fall, timing.

configuration.txt §5.2 "check", "inter", "fastinter", "downinter", "rise",
"fall", "port", "addr"; §4.2 "timeout check"; §3.1 "spread-checks".
Invariants: only this module changes a server's operational state from a
check result (``ServerRT.set_state``); health follows HAProxy's counter
(starts at ``rise``: one failure takes a fresh server DOWN, after which
``rise`` successes bring it UP and ``fall`` failures DOWN again); the next
check starts one interval after the previous one ended.  I/O is plain
non-blocking sockets on the loop's reader/writer callbacks: no task per check.
A TLS connect (``Connect.ssl``, see tls.py) runs its handshake through memory
BIOs on the same socket; the connect timeout covers it (L6TOUT), a failed
one is L6RSP, and a check that ends after it is L6OK.

Cost (benchmarks/checks_1000.py): the sockets of all checks wait in one
epoll set of the scheduler's, itself one reader of the loop, so a check's
socket is registered with one ``epoll_ctl`` and leaves the set when it is
closed (no per-check loop handle); check starts and timeouts are bucketed
on the ``TICK`` grid, one loop timer per bucket, not one per check; the two
usual rule sets (a plain connect, ``option httpchk``: ``rules.fast_path``)
run without walking their steps, an answer whole in the first read decided
at once, anything else handed to ``rules.Run`` as the other rule sets.
"""

from __future__ import annotations

import _socket
import errno
import os
import random
import select
import socket
import ssl
import struct
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import report
from pyhaproxy.checks import rules as R
from pyhaproxy.checks import status as st
from pyhaproxy.checks import tls as T
from pyhaproxy.dataplane.backend import DOWN, UP

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from pyhaproxy.messages import Reporter

_LINGER0 = struct.pack("ii", 1, 0)  # close with a reset: no TIME_WAIT per check
_STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
_SOL_SOCKET, _SO_LINGER, _SO_ERROR = socket.SOL_SOCKET, socket.SO_LINGER, socket.SO_ERROR
_IPPROTO_TCP, _TCP_QUICKACK = socket.IPPROTO_TCP, socket.TCP_QUICKACK
_EPOLLIN, _EPOLLOUT = select.EPOLLIN, select.EPOLLOUT
_EINPROGRESS, _EALREADY, _EISCONN = errno.EINPROGRESS, errno.EALREADY, errno.EISCONN
# checks start on a grid of this many seconds (HAProxy's timers have a
# millisecond grid; a coarser one batches the wake-ups of many checks)
TICK = 0.01


class Scheduler:
    """Owns every check of a process; ``start()`` spreads their first runs
    over the smallest interval, ``close()`` stops them.

    It is also the checks' event source: ``watch(fd, events, callback)``
    puts a socket in its epoll set (a closed socket leaves it by itself),
    and ``at(when, check, kind, gen)``
    calls ``check._launch()`` (kind 0) or ``check._expired()`` (kind 1) at
    the ``TICK`` boundary ``when`` unless ``gen`` is stale by then."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        reporter: Reporter,
        spread: int = 0,
        log: Callable[[str, int, str], None] | None = None,
    ):
        self.loop = loop
        self.out = report.Out(reporter, log)  # where messages go
        self.spread = spread  # percent of random jitter (spread-checks)
        self.checks: list[Check] = []
        # called with each check that completed (master/share.py publishes it)
        self.on_result: Callable[[Check], None] | None = None
        self._epoll: select.epoll | None = None
        self.handlers: dict[int, Callable[[], None]] = {}
        self._buckets: dict[float, list[tuple[Check, int, int]]] = {}
        # the process's streams (DataPlane.sessions): on-marked-down/up kill some
        self.sessions: Any = ()
        # the runtime's health book (runtime/health.py), once it exists: an
        # agent's admin words change the server through it (agent.py)
        self.book: Any = None

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def start(self) -> None:
        if not self.checks:
            return
        self._epoll = select.epoll()
        self.loop.add_reader(self._epoll.fileno(), self._ready)
        mininter = min(c.interval() for c in self.checks)
        n = len(self.checks)
        for pos, c in enumerate(self.checks):
            c.schedule(mininter * pos / n / 1000.0)

    def jitter(self, seconds: float) -> float:
        if self.spread:
            rnd = self.spread * (random.random() * 2 - 1) / 100.0
            seconds += seconds * rnd
        return seconds

    def close(self) -> None:
        for c in self.checks:
            c.stop()
        if self._epoll is not None:
            self.loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._epoll = None
        self._buckets.clear()

    # ---- events ------------------------------------------------------------

    def watch(self, fd: int, events: int, callback: Callable[[], None], known: bool) -> None:
        """Wait for ``events`` on ``fd`` (``known``: already in the set)."""
        self.handlers[fd] = callback
        ep = self._epoll
        assert ep is not None
        if known:
            ep.modify(fd, events)
        else:
            ep.register(fd, events)

    def _ready(self) -> None:
        ep = self._epoll
        if ep is None:
            return
        handlers = self.handlers
        for fd, _ in ep.poll(0):
            cb = handlers.get(fd)
            if cb is not None:
                try:
                    cb()
                except Exception as exc:  # a bug in one check stops no other
                    self._crashed(exc)

    def at(self, when: float, check: Check, kind: int, gen: int) -> None:
        """Run ``check``'s launch (kind 0) or timeout (kind 1) at the first
        ``TICK`` boundary at or after loop time ``when``."""
        tick = -(-when // TICK)  # ceil, as a float: the bucket's key
        bucket = self._buckets.get(tick)
        if bucket is None:
            self._buckets[tick] = bucket = []
            self.loop.call_at(tick * TICK, self._fire, tick)
        bucket.append((check, kind, gen))

    def _fire(self, tick: float) -> None:
        for check, kind, gen in self._buckets.pop(tick, ()):
            try:
                if kind:
                    if check._tgen == gen:
                        check._expired()
                elif check._lgen == gen:
                    check._launch()
            except Exception as exc:  # a bug in one check stops no other
                self._crashed(exc)

    def _crashed(self, exc: Exception) -> None:
        self.loop.call_exception_handler(
            {"message": "health check callback failed", "exception": exc}
        )


class Check:
    """One server's health check (or agent check, ``agent=True``)."""

    def __init__(
        self,
        sched: Scheduler,
        server: Any,
        ruleset: R.Ruleset,
        *,
        host: str,
        port: int,
        family: int,
        rise: int = 2,
        fall: int = 3,
        inter: int = 2000,
        fastinter: int = 0,
        downinter: int = 0,
        timeout_connect: int | None = None,
        timeout_check: int | None = None,
        log_checks: bool = False,
        agent: bool = False,
        tls: T.CheckTLS | None = None,
    ) -> None:
        self.sched = sched
        self.loop = sched.loop
        self.server = server
        self.ruleset = ruleset
        # a plain connect or ``option httpchk``: driven without the steps
        self._fast = None if agent else R.fast_path(ruleset)
        self.host, self.port, self.family = host, port, family
        self.rise, self.fall = rise, fall
        self.inter, self.fastinter, self.downinter = inter, fastinter, downinter
        self.health = rise
        self.timeout_connect = timeout_connect
        self.timeout_check = timeout_check
        self.log_checks = log_checks
        self.agent = agent
        self.tls = tls  # the context of TLS connects, built at start
        self.main: Check | None = None  # an agent check's server health check
        self.agent_check: Check | None = None  # a health check's agent check
        self.status: st.Status = st.INI
        self.code = 0
        self.desc = ""
        self.duration = -1
        self.runs = 0  # checks completed (tests, stats)
        self.failed = 0  # failed checks of a healthy server (stats chkfail)
        # "disable health|agent" (runtime API, stats page): no check runs,
        # the schedule goes on (HAProxy's CHK_ST_ENABLED cleared)
        self.enabled = True
        self.on_agent_reply: Any = None  # agent.apply
        self.observer: Any = None  # observe.Observer of the server's traffic
        self._sock: _socket.socket | None = None
        self._fd = -1  # the socket's descriptor, while it is open
        self._polled = 0  # the events the socket waits for in the scheduler's epoll set
        # generations of the planned launch and of the armed timeout: a
        # bucketed entry (Scheduler.at) whose generation is stale is ignored
        self._lgen = self._tgen = 0
        self._planned = False  # a launch is planned (no check running)
        self._when = 0.0  # when the planned launch is due (loop time)
        self._armed = False  # the current stage's timeout is in a bucket
        self._expire_at = 0.0  # when the current stage times out (loop time)
        self._run: R.Run | None = None
        self._buf = bytearray()
        self._eof = False
        self._established = False
        # a TLS connect: its SSLObject and BIOs; _shaking during the handshake
        self._ssl: ssl.SSLObject | None = None
        self._in: ssl.MemoryBIO | None = None
        self._out: ssl.MemoryBIO | None = None
        self._shaking = False
        self._t0 = 0.0
        self._stopped = False

    # ------------------------------------------------------------ timing

    def interval(self) -> int:
        """HAProxy's srv_getinter: ``inter`` when fully up, ``downinter``
        when down, ``fastinter`` in between (transitions)."""
        h = self.main.health if self.main is not None else self.health
        top = self.rise + self.fall - 1
        if self.agent or h == top:
            return self.inter
        if h == 0 and self.server.state == DOWN:
            return self.downinter or self.inter
        return self.fastinter or self.inter

    def schedule(self, delay: float) -> None:
        """Start the next check ``delay`` seconds from now, rounded up to
        the scheduler's ``TICK``: checks due within one tick start in one
        wake-up of the loop instead of one each."""
        if not self._stopped:
            self._lgen += 1
            self._planned = True
            self._when = when = self.loop.time() + delay
            self.sched.at(when, self, 0, self._lgen)

    def hasten(self, delay: float) -> None:
        """The next check starts within ``delay`` seconds if it was planned
        later (HAProxy requeues the check task after ``on-error``)."""
        if self._planned and self._when > self.loop.time() + delay:
            self.schedule(delay)

    @property
    def in_progress(self) -> bool:
        """A check is running (the stats show its status as ``* L7OK``)."""
        return not self._planned and not self._stopped and self.enabled

    def stop(self) -> None:
        self._stopped = True
        self._lgen += 1
        self._planned = False
        self._close()

    # ------------------------------------------------------------ I/O
    #
    # A check costs system calls more than Python: the socket is created
    # non-blocking (no fcntl), a connect that the kernel decides at once (a
    # loopback or a refused port) is confirmed by a second connect() instead
    # of an epoll round trip, and the timeout timer is armed only when the
    # check has to wait.

    def _launch(self) -> None:
        self._lgen += 1
        self._planned = False
        # a health check pauses while its server is in maintenance
        # (HAProxy's CHK_ST_PAUSED); an agent's reply may end it: it runs
        if not self.enabled or (self.server.maint and not self.agent):
            self.schedule(self.interval() / 1000.0)
            return
        self._t0 = self.loop.time()
        self._run = run = R.Run(self.ruleset)
        self._buf.clear()
        self._eof = False
        fast = self._fast
        if fast is not None:
            run.pos, run.current = 1, self.ruleset.steps[0]
            self._fast_launch(fast)
            return
        self._step(run.next())

    def _fast_launch(self, fast: R.Fast) -> None:
        """``_connect``, ``_established_now`` and ``_fast_send`` in one for
        the usual checks (a plain connect, ``option httpchk``); whatever
        must wait for the connection goes on through ``_connected``."""
        self._established = False
        try:
            sock = _socket.socket(self.family, _STREAM)
        except OSError as exc:
            self._finish(st.SOCKERR, 0, _strerror(exc.errno))
            return
        sock.setsockopt(_SOL_SOCKET, _SO_LINGER, _LINGER0)
        sock.setsockopt(_IPPROTO_TCP, _TCP_QUICKACK, 0)  # see _connect
        self._sock = sock
        fd = self._fd = sock.fileno()
        now = self._t0
        limit = self.inter / 1000.0  # as in _connect
        if self.timeout_check is not None and self.timeout_connect is not None:
            limit = min(self.timeout_connect / 1000.0, limit)
        addr = (self.host, self.port)
        err = sock.connect_ex(addr)
        if err == _EINPROGRESS:
            err = sock.connect_ex(addr)
        sched = self.sched
        if err and err != _EISCONN:
            if err not in (_EALREADY, _EINPROGRESS):
                self._finish(st.L4CON, 0, _strerror(err))
                return
            self._expire_at = now + limit
            self._armed = True
            sched.at(self._expire_at, self, 1, self._tgen)
            sched.watch(fd, _EPOLLOUT, self._connected, False)
            self._polled = _EPOLLOUT
            return
        self._established = True
        request = fast.request
        if request is None:
            self._finish(fast.ok, 0, "")
            return
        try:
            sock.send(request)
        except OSError as exc:
            self._finish(st.SOCKERR, 0, _strerror(exc.errno))
            return
        run = self._run
        assert run is not None
        run.pos, run.current = 3, self.ruleset.steps[2]
        if self.timeout_check is not None:
            limit = self.timeout_check / 1000.0
        self._expire_at = now + limit
        self._armed = True
        sched.at(self._expire_at, self, 1, self._tgen)
        sched.watch(fd, _EPOLLIN, self._fast_readable, False)
        self._polled = _EPOLLIN

    def _connect(self, step: R.Connect) -> None:
        if self._sock is not None or self._armed:
            self._close()
        self._established = False
        try:
            sock = _socket.socket(self.family, _STREAM)
        except OSError as exc:
            self._finish(st.SOCKERR, 0, R.conn_error(self.ruleset, step, _strerror(exc.errno)))
            return
        sock.setsockopt(_SOL_SOCKET, _SO_LINGER, _LINGER0)
        if (
            self._fast is not None
            or self._run is None
            or not isinstance(self._run.peek(), R.Expect)
        ):
            # HAProxy's CONNECT_DELACK_ALWAYS: unless the server speaks
            # first, the handshake's last ACK waits for data or the close
            sock.setsockopt(_IPPROTO_TCP, _TCP_QUICKACK, 0)
        self._sock = sock
        self._fd = sock.fileno()
        # "timeout check" set: the connection gets min(timeout connect,
        # inter); otherwise the whole check gets inter (configuration.txt
        # §4.2 "timeout check")
        limit = self.inter / 1000.0
        if self.timeout_check is not None and self.timeout_connect is not None:
            limit = min(self.timeout_connect / 1000.0, limit)
        self._deadline(self.loop.time() + limit)
        addr = (self.host, step.port or self.port)
        err = sock.connect_ex(addr)
        if err == _EINPROGRESS:
            err = sock.connect_ex(addr)  # 0 once established, EALREADY while not
        if err in (_EALREADY, _EINPROGRESS):
            self._wait()
            self._watch(_EPOLLOUT, self._connected)
        elif err and err != _EISCONN:
            self._finish(st.L4CON, 0, R.conn_error(self.ruleset, step, _strerror(err)))
        else:
            self._l4_up(step)

    def _deadline(self, when: float) -> None:
        """Set when the current stage of the check times out."""
        self._expire_at = when
        if self._armed:
            self._tgen += 1  # the bucketed timeout of the last stage is void
            self._armed = False

    def _wait(self) -> None:
        """Arm the timeout before waiting for the socket."""
        if not self._armed:
            self._armed = True
            self.sched.at(self._expire_at, self, 1, self._tgen)

    def _watch(self, events: int, callback: Callable[[], None]) -> None:
        """Wait for ``events`` on the socket, then call ``callback``."""
        if self._polled != events:
            self.sched.watch(self._fd, events, callback, bool(self._polled))
            self._polled = events
        else:
            self.sched.handlers[self._fd] = callback

    def _connected(self) -> None:
        sock = self._sock
        assert sock is not None and self._run is not None
        err = sock.getsockopt(_SOL_SOCKET, _SO_ERROR)
        if not err:
            err = sock.connect_ex((self.host, self._run.current.port or self.port))
            if err in (_EALREADY, _EINPROGRESS):
                return  # not established yet (a stale event)
            if err == _EISCONN:
                err = 0
        if err:
            self._finish(st.L4CON, 0, R.conn_error(self.ruleset, self._run.current, _strerror(err)))
            return
        self._l4_up(self._run.current)

    def _l4_up(self, step: R.Connect) -> None:
        """The TCP connection is up: the TLS handshake, if any, comes next,
        still under the connection's timeout."""
        if not step.ssl or self.tls is None:
            self._established_now()
            return
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._ssl = self.tls.wrap(self._in, self._out, step.sni)
        self._shaking = True
        self._handshake()

    def _handshake(self) -> None:
        obj, sock, run = self._ssl, self._sock, self._run
        assert obj is not None and sock is not None and run is not None
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            if self._flush(sock):
                self._wait()
                self._watch(_EPOLLIN, self._readable)
            return
        except (ssl.SSLError, ValueError):
            self._tls_failed(T.HANDSHAKE_FAILURE)
            return
        if not self._flush(sock):
            return
        bad = self.tls.mismatch(obj, run.current.sni) if self.tls is not None else ""
        if bad:
            self._tls_failed(bad)
            return
        self._shaking = False
        self._established_now()

    def _handshake_data(self, sock: _socket.socket) -> None:
        assert self._in is not None
        try:
            raw = sock.recv(R.MAX_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._tls_failed(T.HANDSHAKE_FAILURE, exc.errno)
            return
        if raw:
            self._in.write(raw)
        else:
            self._in.write_eof()
        self._handshake()

    def _tls_failed(self, words: str, err: int | None = None) -> None:
        """HAProxy's chk_report_conn_err for a connection waiting for L6."""
        reason = _strerror(err)
        text = f"{words} ({reason})" if reason else words
        assert self._run is not None
        self._finish(st.L6RSP, 0, R.conn_error(self.ruleset, self._run.current, text))

    def _flush(self, sock: _socket.socket) -> bool:
        """Send what TLS has to send; False (check finished) on an error."""
        assert self._out is not None
        data = self._out.read()
        try:
            while data:
                data = data[sock.send(data) :]
        except OSError as exc:
            assert self._run is not None
            status = st.L6RSP if self._shaking else st.SOCKERR
            words = _strerror(exc.errno)
            if self._shaking:
                words = f"{T.HANDSHAKE_FAILURE} ({words})" if words else T.HANDSHAKE_FAILURE
            self._finish(status, 0, R.conn_error(self.ruleset, self._run.current, words))
            return False
        return True

    def _decrypt(self, raw: bytes | None) -> tuple[bytes, bool]:
        """Feed ``raw`` (b"": the peer closed) to TLS: the clear text it
        completes, and whether the stream ended."""
        inc, obj = self._in, self._ssl
        assert inc is not None and obj is not None
        if raw:
            inc.write(raw)
        elif raw is not None:
            inc.write_eof()
        chunks = []
        eof = False
        while True:
            try:
                chunk = obj.read(R.MAX_RECV)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLError:  # close_notify, a truncated stream, a bad record
                eof = True
                break
            if not chunk:
                eof = True
                break
            chunks.append(chunk)
        return b"".join(chunks), eof

    def _established_now(self) -> None:
        assert self._run is not None
        self._established = True
        if self.timeout_check is not None:
            self._deadline(self.loop.time() + self.timeout_check / 1000.0)
        fast = self._fast
        if fast is None:
            self._step(self._run.next())
        elif fast.request is None:
            self._finish(fast.ok, 0, "")
        else:
            self._fast_send(fast)

    def _fast_send(self, fast: R.Fast) -> None:
        """``option httpchk``: what ``_step`` does for its Send and Expect."""
        sock, run = self._sock, self._run
        assert sock is not None and run is not None and fast.request is not None
        steps = self.ruleset.steps
        try:
            sock.send(fast.request)
        except OSError as exc:
            self._finish(st.SOCKERR, 0, R.conn_error(self.ruleset, steps[1], _strerror(exc.errno)))
            return
        run.pos, run.current = 3, steps[2]
        self._wait()
        self._watch(_EPOLLIN, self._fast_readable)

    def _fast_readable(self) -> None:
        """A whole answer in the first read is decided here; anything else
        goes on through ``Run.feed`` as in ``_readable``."""
        sock = self._sock
        assert sock is not None and self._fast is not None
        try:
            data = sock.recv(R.MAX_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            assert self._run is not None
            self._finish(
                st.SOCKERR, 0, R.conn_error(self.ruleset, self._run.current, _strerror(exc.errno))
            )
            return
        if data and not self._buf:
            got = self._fast.status_of(data)
            if got is not None:
                self._finish(*got)
                return
        self._watch(_EPOLLIN, self._readable)
        self._received(data, not data)

    def _step(self, step: Any) -> None:
        run = self._run
        assert run is not None
        while True:
            if isinstance(step, R.Result):
                self._finish(step.status, step.code, step.desc, step)
                return
            if isinstance(step, R.Connect):
                self._connect(step)
                return
            sock = self._sock
            assert sock is not None
            if isinstance(step, R.Send):
                try:
                    if self._ssl is not None:
                        self._ssl.write(step.data)
                        if not self._flush(sock):
                            return
                    else:
                        sock.send(step.data)
                except (OSError, ssl.SSLError) as exc:
                    self._finish(
                        st.SOCKERR, 0, R.conn_error(self.ruleset, step, _strerror(exc.errno))
                    )
                    return
                self._buf.clear()
                step = run.next()
                continue
            if self._ssl is not None and self._in is not None and self._in.pending:
                data, eof = self._decrypt(None)  # arrived with the handshake
                self._buf += data
                self._eof = self._eof or eof
            got = run.feed(bytes(self._buf), self._eof) if (self._buf or self._eof) else None
            if got is None:
                self._wait()
                self._watch(_EPOLLIN, self._readable)
                return
            step = got

    def _readable(self) -> None:
        sock = self._sock
        run = self._run
        assert sock is not None and run is not None
        if self._shaking:
            self._handshake_data(sock)
            return
        try:
            data = sock.recv(R.MAX_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finish(
                st.SOCKERR, 0, R.conn_error(self.ruleset, run.current, _strerror(exc.errno))
            )
            return
        if self._ssl is not None:
            data, eof = self._decrypt(data)
            if not data and not eof:
                return  # a partial record, or only a session ticket
        else:
            eof = not data
        self._received(data, eof)

    def _received(self, data: bytes, eof: bool) -> None:
        run = self._run
        assert run is not None
        if eof:
            self._eof = True
        buf = self._buf
        if buf:
            buf += data
            data = bytes(buf)
        else:
            buf += data  # usually the whole answer: fed without a copy
        got = run.feed(data, self._eof)
        if got is None:
            if self._eof:  # cannot happen: the last read always decides
                self._finish(st.L7RSP, 0, "")
            return
        self._step(got)

    def _expired(self) -> None:
        self._armed = False
        run = self._run
        assert run is not None
        if self._shaking:
            self._finish(st.L6TOUT, 0, R.conn_error(self.ruleset, run.current, ""))
        elif not self._established:
            self._finish(st.L4TOUT, 0, R.conn_error(self.ruleset, run.current, ""))
        else:
            self._finish(run.timeout_status(), 0, R.conn_error(self.ruleset, run.current, ""))

    def _close(self) -> None:
        sock = self._sock
        if sock is not None:
            self._sock = None
            # closing the socket takes it out of the epoll set; its callback
            # stays in ``handlers`` until the descriptor serves again
            self._polled = 0
            self._fd = -1
            sock.close()
        if self._ssl is not None:
            self._ssl = self._in = self._out = None
            self._shaking = False
        if self._armed:
            self._tgen += 1
            self._armed = False

    def _finish(self, status: st.Status, code: int, desc: str, result: Any = None) -> None:
        self._close()
        self.duration = int((self.loop.time() - self._t0) * 1000)
        self.runs += 1
        if self.agent and self.on_agent_reply is not None:
            self.on_agent_reply(self, status, code, desc, result)
        else:
            self.set_status(status, code, desc)
        if self.sched.on_result is not None:
            self.sched.on_result(self)
        delay = self.interval() / 1000.0
        self.schedule(self.sched.jitter(delay) if self.sched.spread else delay)

    # ------------------------------------------------------------ health

    def set_status(self, status: st.Status, code: int, desc: str) -> None:
        """HAProxy's set_server_check_status + check_notify_*: move the
        health counter, log with ``option log-health-checks``, then change
        the server's state when the counter crosses rise/fall."""
        prev = self.status
        self.status, self.code, self.desc = status, code, desc
        top = self.rise + self.fall - 1
        result = status.result
        if (
            status is prev
            and result == st.PASSED
            and self.health == top
            and self.server.state == UP
            and self.observer is None
        ):
            return  # the steady state: nothing moves, nothing to log
        report_it = False
        if self.observer is not None and result in (st.PASSED, st.CONDPASS):
            self.observer.errors = 0  # a good check clears the analysis
        if result == st.FAILED and self.health > 0:
            self.failed += 1
            self.health -= 1
            report_it = True
            if self.health < self.rise:
                self.health = 0
        elif result in (st.PASSED, st.CONDPASS) and self.health < top:
            self.health += 1
            report_it = True
            if self.health >= self.rise:
                self.health = top
        srv = self.server
        if self.log_checks and (status is not prev or report_it):
            detail = report.check_status(status, code, desc, self.duration)
            report.emit(
                self.sched.out,
                srv.backend.name,
                "notice",
                report.health_line(
                    srv, self.agent, result, detail, self.health, self.rise, self.fall
                ),
            )
        # the words of a state change are formatted only when it happens
        if result == st.FAILED and self.health == 0:
            if srv.state != DOWN:
                self.mark(DOWN, report.check_status(status, code, desc, self.duration))
        elif (
            result == st.PASSED
            and self.health >= self.rise
            and srv.state != UP
            and self._agent_agrees()
        ):
            self.mark(UP, report.check_status(status, code, desc, self.duration))

    def _agent_agrees(self) -> bool:
        """A server whose agent says it is down cannot come UP by its
        health check (HAProxy's check_notify_success)."""
        agent = self.agent_check
        return agent is None or not agent.enabled or agent.health >= agent.rise

    def mark(self, state: str, detail: str) -> None:
        srv = self.server
        if srv.state == state:
            return
        had = report.counts(srv.backend) != (0, 0)
        srv.set_state(state)
        if srv.maint:  # no message for a server in maintenance
            return
        if self.log_checks:
            detail = ""
        report.state_change(self.sched.out, srv, state == DOWN, detail, had)
        report.still_draining(self.sched.out, srv, "")


def _strerror(code: int | None) -> str:
    if not code or code in (errno.EAGAIN, errno.EINPROGRESS):
        return ""
    return os.strerror(code)
