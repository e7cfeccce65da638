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
"""

from __future__ import annotations

import _socket
import errno
import math
import os
import random
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
# checks start on a grid of this many seconds (HAProxy's timers have a
# millisecond grid; a coarser one batches the wake-ups of many checks)
TICK = 0.01


class Scheduler:
    """Owns every check of a process; ``start()`` spreads their first runs
    over the smallest interval, ``close()`` stops them."""

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

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def start(self) -> None:
        if not self.checks:
            return
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
        self.on_agent_reply: Any = None  # agent.apply
        self._sock: _socket.socket | None = None
        self._handle: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._expire_at = 0.0  # when the current stage times out (loop time)
        self._reading = self._writing = False  # registered with the loop
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
            when = math.ceil((self.loop.time() + delay) / TICK) * TICK
            self._handle = self.loop.call_at(when, self._launch)

    def stop(self) -> None:
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()
        self._close()

    # ------------------------------------------------------------ I/O
    #
    # A check costs system calls more than Python: the socket is created
    # non-blocking (no fcntl), a connect that the kernel decides at once (a
    # loopback or a refused port) is confirmed by a second connect() instead
    # of an epoll round trip, and the timeout timer is armed only when the
    # check has to wait.

    def _launch(self) -> None:
        self._handle = None
        self._t0 = self.loop.time()
        self._run = R.Run(self.ruleset)
        self._buf.clear()
        self._eof = False
        step = self._run.next()
        self._step(step)

    def _connect(self, step: R.Connect) -> None:
        self._close()
        self._established = False
        try:
            sock = _socket.socket(self.family, _STREAM)
        except OSError as exc:
            self._finish(st.SOCKERR, 0, R.conn_error(self.ruleset, step, _strerror(exc.errno)))
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
        if self._run is None or not isinstance(self._run.peek(), R.Expect):
            # HAProxy's CONNECT_DELACK_ALWAYS: unless the server speaks
            # first, the handshake's last ACK waits for data or the close
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
        self._sock = sock
        # "timeout check" set: the connection gets min(timeout connect,
        # inter); otherwise the whole check gets inter (configuration.txt
        # §4.2 "timeout check")
        limit = self.inter / 1000.0
        if self.timeout_check is not None and self.timeout_connect is not None:
            limit = min(self.timeout_connect / 1000.0, limit)
        self._deadline(self.loop.time() + limit)
        addr = (self.host, step.port or self.port)
        err = sock.connect_ex(addr)
        if err == errno.EINPROGRESS:
            err = sock.connect_ex(addr)  # 0 once established, EALREADY while not
        if err == errno.EALREADY or err == errno.EINPROGRESS:
            self._wait()
            self._writing = True
            self.loop.add_writer(sock.fileno(), self._connected)
        elif err and err != errno.EISCONN:
            self._finish(st.L4CON, 0, R.conn_error(self.ruleset, step, _strerror(err)))
        else:
            self._l4_up(step)

    def _deadline(self, when: float) -> None:
        """Set when the current stage of the check times out."""
        self._expire_at = when
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _wait(self) -> None:
        """Arm the timeout before waiting for the socket."""
        if self._timer is None:
            self._timer = self.loop.call_at(self._expire_at, self._expired)

    def _connected(self) -> None:
        sock = self._sock
        assert sock is not None and self._run is not None
        self._writing = False
        self.loop.remove_writer(sock.fileno())
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
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
                if not self._reading:
                    self._reading = True
                    self.loop.add_reader(sock.fileno(), self._readable)
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
        self._step(self._run.next())

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
                if not self._reading:
                    self._reading = True
                    self.loop.add_reader(sock.fileno(), self._readable)
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
        if eof:
            self._eof = True
        self._buf += data
        got = run.feed(bytes(self._buf), self._eof)
        if got is None:
            if self._eof:  # cannot happen: the last read always decides
                self._finish(st.L7RSP, 0, "")
            return
        self._reading = False
        self.loop.remove_reader(sock.fileno())
        self._step(got)

    def _expired(self) -> None:
        self._timer = None
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
            if self._reading or self._writing:
                fd = sock.fileno()
                if self._reading:
                    self.loop.remove_reader(fd)
                if self._writing:
                    self.loop.remove_writer(fd)
                self._reading = self._writing = False
            sock.close()
        self._ssl = self._in = self._out = None
        self._shaking = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _finish(self, status: st.Status, code: int, desc: str, result: Any = None) -> None:
        self._close()
        self.duration = int((self.loop.time() - self._t0) * 1000)
        self.runs += 1
        if self.agent and self.on_agent_reply is not None:
            self.on_agent_reply(self, status, code, desc, result)
        else:
            self.set_status(status, code, desc)
        self.schedule(self.sched.jitter(self.interval() / 1000.0))

    # ------------------------------------------------------------ health

    def set_status(self, status: st.Status, code: int, desc: str) -> None:
        """HAProxy's set_server_check_status + check_notify_*: move the
        health counter, log with ``option log-health-checks``, then change
        the server's state when the counter crosses rise/fall."""
        prev = self.status
        self.status, self.code, self.desc = status, code, desc
        report_it = False
        top = self.rise + self.fall - 1
        result = status.result
        if result == st.FAILED and self.health > 0:
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
        return agent is None or agent.health >= agent.rise

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


def _strerror(code: int | None) -> str:
    if not code or code in (errno.EAGAIN, errno.EINPROGRESS):
        return ""
    return os.strerror(code)
