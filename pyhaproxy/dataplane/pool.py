"""Idle server connections kept for reuse (configuration.txt §4.2 "http-reuse").

A connection is in at most one pool; it leaves it when taken or when the
server closes it (``discard``).  LIFO, so the most recently used connection,
least likely to have been closed by the server, is reused first.

Strategies: ``never`` (the caller keeps its connection private), ``safe``
(the default: the first request of a client connection never takes an idle
connection), ``aggressive`` (a first request takes only a connection that
already served two requests), ``always``.

Purging (``pool-purge-delay``, 5 s): every period, connections that stayed
idle through the whole previous period are closed.  Each put stamps the
connection with the current period number; no clock is read per request.
"""

from __future__ import annotations

from typing import Any

PURGE_DELAY = 5.0  # seconds, HAProxy's default pool-purge-delay


class Pool:
    __slots__ = ("idle", "period")

    def __init__(self) -> None:
        self.idle: list[Any] = []
        self.period = 0

    def take(self, first: bool, mode: str) -> Any | None:
        if first and mode != "always":
            if mode != "aggressive":
                return None
            return self._take_proven()
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.transport.is_closing():
                return conn
        return None

    def _take_proven(self) -> Any | None:
        idle = self.idle
        for i in range(len(idle) - 1, -1, -1):
            conn = idle[i]
            if conn.uses >= 2 and not conn.transport.is_closing():
                del idle[i]
                return conn
        return None

    def put(self, conn: Any) -> None:
        conn.period = self.period
        self.idle.append(conn)

    def discard(self, conn: Any) -> None:
        try:
            self.idle.remove(conn)
        except ValueError:
            pass

    def purge(self) -> None:
        """Close what stayed idle since the previous purge; start a period."""
        period = self.period
        if self.idle:
            keep = []
            for conn in self.idle:
                if conn.period == period:
                    keep.append(conn)
                else:
                    conn.transport.close()
            self.idle = keep
        self.period = period + 1

    def close_all(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.transport.close()
