"""Loggers: the global one (``log`` lines of ``global``, start-up and alert
messages) and one per frontend (traffic logs), built once at start-up.

A frontend has a ``ProxyLog`` only when it has log targets (its own ``log``
lines or ``log global``); the data plane then calls ``ProxyLog.stream(s)``
once when a stream (an HTTP transaction, a TCP session) ends.  Frontends
without targets have ``log = None``: a request there costs one attribute test.

Levels (configuration.txt §4.2 "option log-separate-errors", §8): traffic
logs at ``info``, errors at ``err`` with ``log-separate-errors``;
``dontlognull`` skips streams that carried no data (TCP) or no request
(HTTP); ``dontlog-normal`` keeps only errors.  Proxies without a format
(no ``option httplog``/``tcplog``/``log-format``) log HAProxy's default
``Connect from`` line at accept (§8.2.1).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyhaproxy.log.logformat import HTTPLOG, HTTPLOG_CLF, HTTPSLOG, TCPLOG, compile_format
from pyhaproxy.log.states import is_error
from pyhaproxy.log.syslog import ALERT, ERR, INFO, NOTICE, WARNING
from pyhaproxy.log.target import Target

if TYPE_CHECKING:
    from pyhaproxy.config.model import Global, LogTarget, Proxy
    from pyhaproxy.messages import Reporter

_REPORTER_LEVELS = {"ALERT": ALERT, "WARNING": WARNING, "NOTICE": NOTICE}


class Logging:
    """Every target of the process, the global ones first; the total of
    dropped messages is ``dropped()`` (HAProxy's ``DroppedLogs``)."""

    def __init__(
        self, global_: Global, clock: Callable[[], float], reporter: Reporter | None = None
    ) -> None:
        self.clock = clock  # the loop's time()
        self.reporter = reporter
        self.wall0 = time.time() - clock()
        self.pid = os.getpid()
        extra = global_.extra
        self.tag = extra.get("log-tag") or "haproxy"
        host = extra.get("log-send-hostname")
        self.host = "" if host is None else (host or socket.gethostname())
        self.hostname = socket.gethostname()  # %H
        self.all: list[Target] = []
        self.globals = [self._target(t.words) for t in global_.logs]
        self.proxies: dict[str, ProxyLog] = {}
        if reporter is not None and self.globals:
            reporter.sink = self.message

    def _target(self, words: tuple[str, ...]) -> Target:
        t = Target(words)
        self.all.append(t)
        return t

    def targets(self, logs: list[LogTarget]) -> list[Target]:
        out: list[Target] = []
        for lt in logs:
            if lt.is_global:
                out.extend(self.globals)
            else:
                out.append(self._target(lt.words))
        return out

    def message(self, level: str, text: str) -> None:
        """A Reporter message (alert, warning, notice) to the global targets."""
        lvl = _REPORTER_LEVELS.get(level, NOTICE)
        now = self.wall0 + self.clock()
        for t in self.globals:
            t.send(lvl, text, now, self.tag, self.pid, self.host)

    def send(self, proxy: str | None, level: int, text: str) -> None:
        """A control-plane message (server state change, ...) to the log
        targets of ``proxy`` (the global ones for None), at ``level``
        (``syslog.ALERT`` ...), as HAProxy's ``send_log(proxy, level, ...)``."""
        plog = self.proxies.get(proxy) if proxy is not None else None
        if plog is not None:
            plog.emit(level, text)
            return
        if proxy is None:
            now = self.wall0 + self.clock()
            for t in self.globals:
                t.send(level, text, now, self.tag, self.pid, self.host)

    def dropped(self) -> int:
        return sum(t.dropped for t in self.all)

    def close(self) -> None:
        """Close every target; say how many messages were dropped, if any."""
        reporter = self.reporter
        if reporter is not None and reporter.sink == self.message:
            reporter.sink = None
        dropped = self.dropped()
        for t in self.all:
            t.close()
        self.all = self.globals = []
        if dropped and reporter is not None:
            reporter.warning(
                f"{dropped} log messages were dropped (log targets absent or too slow).",
                context=None,
            )


def _captures(px: Proxy, kind: str) -> tuple[tuple[str, int], ...]:
    return tuple(
        (name, length) for k, name, length in px.settings.extra.get("captures", ()) if k == kind
    )


class ProxyLog:
    """A frontend's logger: targets, compiled format, options."""

    __slots__ = (
        "targets",
        "render",
        "http",
        "tag",
        "pid",
        "host",
        "wall0",
        "clock",
        "dontlognull",
        "dontlog_normal",
        "separate_errors",
        "log_count",
        "unique",
        "runtime",
        "name",
        "mode",
        "hostname",
        "sd",
        "monitor",
        "addrs",
    )

    def __init__(self, logging: Logging, px: Proxy, targets: list[Target]) -> None:
        opts = px.settings.options
        extra = px.settings.extra
        self.targets = targets
        self.http = px.mode == "http"
        self.name = px.name
        self.mode = "HTTP" if self.http else "TCP"
        self.tag = extra.get("log-tag") or logging.tag
        self.pid = logging.pid
        self.host = logging.host
        self.hostname = logging.hostname
        self.wall0 = logging.wall0
        self.clock = logging.clock
        self.dontlognull = bool(opts.get("dontlognull"))
        self.dontlog_normal = bool(opts.get("dontlog-normal"))
        self.separate_errors = bool(opts.get("log-separate-errors"))
        self.log_count = 0
        self.runtime: Any = None
        req, rsp = _captures(px, "request"), _captures(px, "response")
        fmt = extra.get("log-format")
        httplog = opts.get("httplog") or opts.get("httpslog")
        if fmt is None and httplog:
            fmt = HTTPLOG_CLF if httplog == "clf" else HTTPLOG
            if opts.get("httpslog"):
                fmt = HTTPSLOG
        if fmt is None and opts.get("tcplog"):
            fmt = TCPLOG
        if fmt is not None and px.mode != "http" and httplog:
            fmt = TCPLOG  # "option httplog" in a tcp proxy falls back to tcplog
        self.render = compile_format(fmt, req, rsp) if fmt else None
        sd = extra.get("log-format-sd")
        self.sd = compile_format(sd, req, rsp) if sd else None  # rfc5424 structured data
        uid = extra.get("unique-id-format")
        self.unique = compile_format(uid) if uid else None
        # the addresses taken at accept: (peer, local), as the formats need
        peer = sock = self.render is None  # the "Connect from" line
        for fn in (self.render, self.sd, self.unique):
            if fn is not None:
                peer, sock = peer or fn.addrs[0], sock or fn.addrs[1]  # type: ignore[attr-defined]
        self.addrs = (peer, sock)
        monitor = extra.get("monitor-uri")
        self.monitor = monitor.encode("latin-1") if monitor else None

    # ---- helpers read by the compiled formats ---------------------------------

    def unique_id(self, s: Any) -> str | None:
        u = self.unique
        return None if u is None else u(s, self, self.clock())

    def actconn(self) -> int:
        rt = self.runtime
        return len(rt.sessions) if rt is not None else 0

    def feconn(self, s: Any) -> int:
        lst = s.listener
        if lst is not None and len(lst.limits) >= 2:
            return lst.limits[-2].cur
        return self.actconn()

    def server_addr(self, s: Any, which: str, index: int) -> Any:
        return None

    def td(self, s: Any, now: float) -> int:
        def ms(a: float, b: float) -> int:
            return int((b - a) * 1000) if a and b else 0

        total = ms(s.t_accept, now)
        used = ms(s.t_accept, s.t_head) + ms(s.t_head, s.t_queue)
        used += ms(s.t_queue, s.t_connect) + ms(s.t_connect, s.t_response)
        return total - used

    # ---- entry points of the data plane ---------------------------------------

    def begin(self, s: Any) -> float:
        """A connection was accepted: its time; proxies without a log
        format log HAProxy's default line now (§8.2.1).  The addresses
        the formats print are taken now, once per connection."""
        peer, sock = self.addrs
        if peer or sock:
            t = s.transport
            s.addrs = (
                t.get_extra_info("peername") if peer else None,
                t.get_extra_info("sockname") if sock else None,
            )
        if self.render is None:
            self.accepted(s)
        return self.clock()

    def accepted(self, s: Any) -> None:
        """The default log line, at accept, for proxies without a format."""
        peer, sock = s.addrs
        if isinstance(peer, tuple) and isinstance(sock, tuple):
            msg = (
                f"Connect from {peer[0]}:{peer[1]} to {sock[0]}:{sock[1]} ({self.name}/{self.mode})"
            )
        else:
            msg = f"Connect from unix:1 to unix:1 ({self.name}/{self.mode})"
        self.emit(INFO, msg)

    def stream(self, s: Any) -> None:
        """A stream ended: log it as the proxy's options say."""
        render = self.render
        if render is not None and (s.bytes_in or not self.dontlognull):
            term = s.term
            error = is_error(term, s.status) if self.http else bool(term)
            if error or not self.dontlog_normal:
                self.log_count += 1
                now = self.clock()
                line = render(s, self, now)
                sd = self.sd(s, self, now) if self.sd is not None else ""
                self.emit(ERR if error and self.separate_errors else INFO, line, sd)
        if self.http:
            self.reset(s)

    def reset(self, s: Any) -> None:
        """The next transaction of a keep-alive connection starts clean; its
        accept date is the end of this one, as HAProxy's H1 mux resets the
        session's accept date after each transaction."""
        s.t_accept = self.clock()
        s.t_request = s.t_head = s.t_queue = s.t_connect = s.t_response = 0.0
        s.status = s.bytes_in = s.bytes_out = s.queued = 0
        s.term = ""
        s.req_head = s.rsp_head = s.log_srv = None

    def is_monitor(self, head: bytes | None) -> bool:
        """Whether the request of ``head`` is the ``monitor-uri``, which is
        never logged (configuration.txt §8.3)."""
        monitor = self.monitor
        if monitor is None or not head:
            return False
        first = head.find(b" ")
        return head[first + 1 : head.find(b" ", first + 1)] == monitor

    def emit(self, level: int, msg: str, sd: str = "") -> None:
        now = self.wall0 + self.clock()
        tag, pid, host = self.tag, self.pid, self.host
        for t in self.targets:
            t.send(level, msg, now, tag, pid, host, sd)


def build(
    global_: Global,
    proxies: list[Proxy],
    clock: Callable[[], float],
    reporter: Reporter | None = None,
) -> tuple[Logging, dict[str, ProxyLog]]:
    """The process logger and the ``ProxyLog`` of each proxy that logs."""
    logging = Logging(global_, clock, reporter)
    logs: dict[str, ProxyLog] = {}
    for px in proxies:
        if px.settings.no_log or not px.settings.logs:
            continue
        targets = logging.targets(px.settings.logs)
        if targets:
            logs[px.name] = ProxyLog(logging, px, targets)
    logging.proxies = logs
    return logging, logs
