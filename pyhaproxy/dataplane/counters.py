"""Traffic counters: plain attributes on the object that owns them (DESIGN.md §6).

Each ``FrontendRT``, ``BackendRT`` and ``ServerRT`` has one ``Counters``
(attribute ``c``); the data plane increments its fields where things happen
(``c.req_tot += 1``), nothing is computed until someone reads the stats
(``pyhaproxy/runtime/stats.py``), which also sums workers.  Field names are
those of HAProxy's ``show stat`` columns (management.txt §9.1).
"""

from __future__ import annotations

__all__ = ["Counters", "count_status"]


class Counters:
    __slots__ = (
        "scur",  # current sessions
        "smax",
        "stot",  # cumulated sessions
        "bin",  # bytes received from the client (frontend) / sent to the server
        "bout",
        "dreq",  # denied requests
        "dresp",
        "ereq",  # request errors
        "econ",  # connection errors
        "eresp",  # response errors
        "wretr",  # retries
        "wredis",  # redispatches
        "qmax",
        "lbtot",  # times selected
        "req_tot",  # HTTP requests
        "hrsp",  # HTTP responses by class: [other, 1xx, 2xx, 3xx, 4xx, 5xx]
        "cli_abrt",
        "srv_abrt",
        "intercepted",  # requests answered by the proxy itself
        "connect",  # server connections established
        "reuse",  # idle connections reused
        "lastsess",  # when a session last started, to the second (tick)
        "smax_reset",
        "rate_cur",  # sessions during the last second (tick)
        "rate_max",  # the highest such count
        "stot_seen",  # stot at the last tick
    )

    def __init__(self) -> None:
        self.scur = 0
        self.clear(True)

    def clear(self, everything: bool) -> None:
        """``clear counters`` (maxima only) / ``clear counters all``."""
        self.smax = self.scur if not everything else 0
        self.qmax = 0
        self.rate_max = 0
        if not everything:
            return
        # scur is not a counter but a gauge of what is open: never cleared
        # (HAProxy keeps feconn/beconn/cur_sess out of the counters it clears)
        self.stot = self.bin = self.bout = 0
        self.dreq = self.dresp = self.ereq = self.econ = self.eresp = 0
        self.wretr = self.wredis = self.lbtot = self.req_tot = 0
        self.hrsp = [0, 0, 0, 0, 0, 0]
        self.cli_abrt = self.srv_abrt = self.intercepted = 0
        self.connect = self.reuse = 0
        self.lastsess = 0.0
        self.smax_reset = 0
        self.rate_cur = self.stot_seen = 0

    def open(self) -> None:
        """A session starts."""
        self.scur = cur = self.scur + 1
        self.stot += 1
        if cur > self.smax:
            self.smax = cur

    def tick(self, now: float) -> None:
        """Once a second, off the hot path (the runtime's stats clock):
        the session rate and the time of the last session."""
        n = self.stot - self.stot_seen
        self.stot_seen = self.stot
        self.rate_cur = n
        if n:
            self.lastsess = now
            if n > self.rate_max:
                self.rate_max = n

    def rate(self) -> int:
        """Sessions started during the last second."""
        return self.rate_cur


def count_status(status: int, *owners: Counters) -> None:
    """One HTTP response of ``status`` for each counter set given."""
    cls = status // 100
    if not 1 <= cls <= 5:
        cls = 0
    for c in owners:
        c.hrsp[cls] += 1


def failed_connect(*owners: Counters) -> None:
    """A connection attempt to a server failed (refused or timed out)."""
    for c in owners:
        c.econ += 1


def failed_request(c: Counters, status: int) -> None:
    """A request that failed before being parsed: an empty or partial
    connection closed or timed out (HAProxy 2.6 counts it as a 400/408
    request error unless ``option http-ignore-probes``)."""
    c.ereq += 1
    c.req_tot += 1
    count_status(status, c)
