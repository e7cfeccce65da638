"""``slowstart <time>``: a server back UP warms up (configuration.txt §5.2).

"The speed grows linearly from 0 to 100% during this time", in HAProxy 2.6's
steps (src/server.c server_warmup, server_recalc_eweight,
srv_dynamic_maxconn): the time is kept in whole seconds (rounded up); once
a second from the change, the effective weight of a dynamic balancer is
``uweight * (16 * elapsed + slowstart) / slowstart`` sixteenths (1/16 of
full at once), and a ``maxconn`` becomes ``max(1, maxconn * ratio%)``.
It never applies at start, only to a server seen failed or in maintenance
that comes back.  Invariant: only this module sets ``ServerRT.ramp`` and
lowers ``maxconn`` while warming up; both are back to full at the end.
"""

from __future__ import annotations

from typing import Any

from pyhaproxy.dataplane.backend import UP
from pyhaproxy.lb.base import BE_WEIGHT_SCALE


class Warmup:
    """The warm-up of one server: a watcher of its state changes."""

    __slots__ = ("server", "secs", "since", "usable", "full", "set_to", "handle")

    def __init__(self, server: Any, ms: int) -> None:
        self.server = server
        self.secs = (ms + 999) // 1000  # HAProxy keeps seconds
        self.since = 0.0
        self.usable = self._usable(server)
        self.full = 0  # the configured maxconn while it is lowered
        self.set_to = 0  # the maxconn this module last set
        self.handle: Any = None
        server.watchers.append(self.watch)

    @staticmethod
    def _usable(srv: Any) -> bool:
        return srv.state == UP and not srv.maint

    def watch(self, srv: Any) -> None:
        usable = self._usable(srv)
        if usable == self.usable:
            return
        self.usable = usable
        if usable:
            loop = srv.loop
            if loop is None or not self.secs:
                return
            self.since = loop.time()
            self.full = srv.maxconn
            self.step()
        else:
            self._end()

    def step(self) -> None:
        srv = self.server
        self.handle = None
        elapsed = int(srv.loop.time() - self.since)
        if elapsed >= self.secs:
            self._end()
            return
        if srv.maxconn != self.set_to and self.set_to:
            self.full = srv.maxconn  # changed meanwhile ("set maxconn server")
        if self.full:
            ratio = 100 * elapsed // self.secs
            self.set_to = srv.maxconn = max(1, self.full * ratio // 100)
        srv.set_ramp((BE_WEIGHT_SCALE * elapsed + self.secs) // self.secs)
        srv.backend.grab(srv)
        self.handle = srv.loop.call_later(1.0, self.step)

    def _end(self) -> None:
        srv = self.server
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        if self.set_to:
            if srv.maxconn == self.set_to:
                srv.maxconn = self.full
            self.set_to = 0
        if srv.ramp:
            srv.set_ramp(0)
            srv.backend.grab(srv)


def attach(server: Any, options: dict[str, Any]) -> Warmup | None:
    ms = options.get("slowstart") or 0
    return Warmup(server, ms) if ms > 0 else None
