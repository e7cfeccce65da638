"""The data plane: listeners, TCP and HTTP streams, servers (DESIGN.md).

``start(config, reporter)`` binds every listener and returns a ``Runtime``
with ``soft_stop()`` (stop accepting, let streams finish) and ``close()``
(hard stop).  ``StartError`` carries an HAProxy-shaped message.

Module map: ``listeners`` (bind), ``tcp`` and ``http`` (stream protocols),
``backend`` (servers, slots, queue), ``pool`` (idle server connections),
``lb`` (server choice), ``routing`` (frontend → backend, local responses),
``timer`` (timeouts), ``errors`` (error pages).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import TYPE_CHECKING, Any

from pyhaproxy.config.keywords.options import http_mode
from pyhaproxy.config.model import BACKEND, FRONTEND
from pyhaproxy.dataplane.backend import BackendRT, resolve
from pyhaproxy.dataplane.h1hdr import Forward, combined_mode
from pyhaproxy.dataplane.http import HttpSession, http_limits
from pyhaproxy.dataplane.listeners import BindError, Limit, Listener, open_bind
from pyhaproxy.dataplane.pool import PURGE_DELAY
from pyhaproxy.dataplane.routing import (
    FrontendRT,
    RouteError,
    compile_rules,
    conditional_rules,
    route,
)
from pyhaproxy.dataplane.tcp import TcpSession
from pyhaproxy.dataplane.timer import TimerWheel
from pyhaproxy.log import Logging, TargetError
from pyhaproxy.log import build as build_logs

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyhaproxy.config.model import Bind, Config
    from pyhaproxy.messages import Reporter

__all__ = ["Runtime", "StartError", "start"]


class StartError(Exception):
    """Start-up failure; ``str()`` is the HAProxy-style alert text, one
    alert per line (HAProxy reports every listener that failed)."""


class Runtime:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.wheel = TimerWheel(loop)
        self.sessions: set[Any] = set()
        self.stopping = False
        self.http_limits = (16384 - 1024, 101)  # see http.http_limits
        self.listeners: list[Listener] = []
        self.backends: dict[str, BackendRT] = {}
        self.frontends: list[FrontendRT] = []
        self._drained: asyncio.Event | None = None
        self.cli: Any = None  # the stats sockets (pyhaproxy.runtime), closed with us
        self._linger: asyncio.TimerHandle | None = None
        self._purge = loop.call_later(PURGE_DELAY, self._purge_idle)
        self.logging: Logging | None = None  # log targets (pyhaproxy/log)
        self.checks: Any = None  # health checks (pyhaproxy/checks.Scheduler)
        self.share: Any = None  # a worker's link to its master (master/share.py)
        self.global_limit: Limit | None = None  # global maxconn's, if set

    def _purge_idle(self) -> None:
        for be in self.backends.values():
            be.purge_idle()
        self._purge = self.loop.call_later(PURGE_DELAY, self._purge_idle)

    def session_done(self, sess: Any) -> None:
        self.sessions.discard(sess)
        listener = sess.listener
        if listener is not None:
            sess.listener = None
            listener.released()
            sess.fe.c.scur -= 1  # counters.py: opened in _factory
        if self._drained is not None and not self.sessions:
            self._drained.set()

    def _close_listeners(self) -> None:
        for lst in self.listeners:
            lst.close()
        self.listeners = []

    async def soft_stop(self, linger: float = 0.0) -> None:
        """Stop accepting; idle connections close, streams finish (SIGUSR1).

        With ``linger`` (a worker replaced by a reload), an idle keep-alive
        connection is closed only once it has stayed idle ``linger`` seconds:
        its client may be sending the next request right now, and a close
        would reset it.  Meanwhile its next response says ``Connection:
        close`` (``stopping``), so a busy client leaves by itself."""
        self.stopping = True
        self._close_listeners()
        for be in self.backends.values():
            be.close_idle()
        self._drained = asyncio.Event()
        if linger > 0:
            self._close_lingering(linger, {})
        else:
            for sess in list(self.sessions):
                sess.soft_close()
        if self.sessions:
            await self._drained.wait()
        self.close()

    def _close_lingering(self, linger: float, seen: dict[Any, Any]) -> None:
        """Soft-close the sessions whose deadline has not moved (no activity)
        since the previous pass, ``linger`` seconds ago."""
        marks = {}
        for sess in list(self.sessions):
            mark = getattr(sess, "deadline", None)
            if sess in seen and seen[sess] == mark:
                sess.soft_close()
            else:
                marks[sess] = mark
        self._linger = self.loop.call_later(linger, self._close_lingering, linger, marks)

    def close(self) -> None:
        self.stopping = True
        if self.cli is not None:
            self.cli.close()
        if self._linger is not None:
            self._linger.cancel()
        self._close_listeners()
        for sess in list(self.sessions):
            sess.close()
        for be in self.backends.values():
            be.close_idle()
        self._purge.cancel()
        if self.checks is not None:
            self.checks.close()
        if self.logging is not None:
            self.logging.close()
        self.wheel.close()


def _factory(fe: FrontendRT, lst: Listener, cls: type) -> Any:
    def make() -> asyncio.Protocol:
        lst.accepted()
        fe.c.open()
        sess = cls(fe)
        sess.listener = lst
        return sess

    return make


async def start(
    config: Config,
    reporter: Reporter,
    opener: Callable[[Bind, int], list[Listener]] = open_bind,
) -> Runtime:
    """Build the runtime of ``config`` and start accepting.  ``opener(bind,
    backlog)`` returns the listeners of a ``bind`` line: ``open_bind`` binds
    them; a master-worker worker passes the sockets its master bound."""
    loop = asyncio.get_running_loop()
    rt = Runtime(loop)
    rt.http_limits = http_limits(config.global_.tune)
    try:
        rt.logging, logs = build_logs(config.global_, config.proxies, loop.time, reporter)
    except TargetError as exc:
        raise StartError(f"config : {exc}") from None
    proxies = [px for px in config.proxies if not px.disabled]
    for px in proxies:
        if px.cap & BACKEND:
            try:
                resolve(px)
            except OSError as exc:
                raise StartError(f"Starting proxy {px.name}: {exc}") from None
            rt.backends[px.name] = BackendRT(px)
    pending: list[tuple[Listener, Any]] = []
    failures: list[str] = []
    global_limit = Limit(config.global_.maxconn or 0)
    rt.global_limit = global_limit if global_limit.maxconn else None
    try:
        for px in proxies:
            if not (px.cap & FRONTEND) or not px.binds:
                continue
            name = route(config, px)
            be = rt.backends.get(name) if name else None
            fe = FrontendRT(px, be, rt)
            fe.log = logs.get(px.name)
            if fe.log is not None:
                fe.log.runtime = rt
            fe_mode = fe.modes[None][0]
            for bname, brt in rt.backends.items():
                bpx = config.proxy(bname, BACKEND)
                bopts = bpx.settings.options if bpx is not None else {}
                try:
                    fwd = Forward(px.settings.options, bopts) or None
                except ValueError as exc:
                    raise StartError(f"Proxy '{px.name}': {exc}") from None
                fe.modes[brt] = (combined_mode(fe_mode, http_mode(bopts)), fwd)
            switch = []
            for rule in conditional_rules(px):
                cond = rule.compiled
                if px.mode != "http" and cond.layer > 4:
                    raise StartError(
                        f"Proxy '{px.name}': [{rule.where}] : a 'use_backend' condition on "
                        "request contents in TCP mode (after 'tcp-request content' "
                        "inspection) is not implemented yet by pyhaproxy"
                    )
                target = rt.backends.get(rule.backend)
                switch.append((cond.test, target, config.proxy(rule.backend, BACKEND)))
                fe.switch.append((cond.test, target))
            if px.mode == "http":
                be_px = config.proxy(name, BACKEND) if name else None
                try:
                    fe.rules = compile_rules(px, be_px, switch, be)
                except (RouteError, OSError, ValueError) as exc:
                    raise StartError(f"Proxy '{px.name}': {exc}") from None
            cls = HttpSession if px.mode == "http" or (be and be.mode == "http") else TcpSession
            rt.frontends.append(fe)
            # "When this value is set to zero, which is the default, the global
            # "maxconn" value is used." (configuration.txt, proxy maxconn)
            fe_limit = Limit(px.settings.maxconn or config.global_.maxconn or 0)
            fe.limit = fe_limit if fe_limit.maxconn else None
            backlog = fe_limit.maxconn
            for bind in px.binds:
                try:
                    listeners = opener(bind, backlog)
                except BindError as exc:
                    strerror, where = exc.args
                    failures.append(
                        f"Binding [{bind.where}] for {fe.kind} {px.name}: "
                        f"cannot bind socket ({strerror}) for {where}"
                    )
                    continue
                tls = bind.tls.built() if bind.tls is not None and bind.tls.enabled() else None
                for lst in listeners:
                    if tls is not None:
                        lst.ssl = tls
                        lst.ssl_timeout = (px.settings.timeouts.get("client") or 60000) / 1000
                    lst.add_limit(fe_limit)
                    lst.add_limit(global_limit)
                    rt.listeners.append(lst)
                    fe.listeners.append(lst)
                    pending.append((lst, _factory(fe, lst, cls)))
        if failures:
            failures.append(
                f"[{sys.argv[0]}.main()] Some protocols failed to start their listeners! Exiting."
            )
            raise StartError("\n".join(failures))
        for lst, factory in pending:
            await lst.start(factory)
        from pyhaproxy.checks.setup import start as start_checks  # control plane

        log = rt.logging.send if rt.logging is not None else None
        rt.checks = start_checks(config, rt.backends, reporter, log)
        rt.checks.sessions = rt.sessions  # on-marked-down/up shutdown-*-sessions
    except BaseException:
        rt.close()
        raise
    tune_collector()
    return rt


def tune_collector() -> None:
    """Each connection allocates protocol objects that refer to each other;
    with the default thresholds the young-generation collections cost about
    10 us of CPU per new connection (py-spy: ``gc_collect_main`` 12%).
    Collect less often, and freeze what exists now (the configuration, the
    runtime objects) out of the collector's sight."""
    gc.freeze()
    gc.set_threshold(20000, 50, 100)
