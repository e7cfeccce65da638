"""Unit tests of the idle connection pool (reuse strategies, purge)."""

from __future__ import annotations

from pyhaproxy.dataplane.pool import Pool


class Transport:
    def __init__(self):
        self.closed = False

    def is_closing(self):
        return self.closed

    def close(self):
        self.closed = True


class Conn:
    def __init__(self, uses=1):
        self.transport = Transport()
        self.uses = uses
        self.period = 0


def test_safe_never_gives_idle_to_a_first_request():
    pool = Pool()
    c = Conn()
    pool.put(c)
    assert pool.take(True, "safe") is None
    assert pool.take(False, "safe") is c


def test_aggressive_first_request_takes_only_proven_connections():
    pool = Pool()
    fresh, proven = Conn(uses=1), Conn(uses=2)
    pool.put(proven)
    pool.put(fresh)
    assert pool.take(True, "aggressive") is proven
    assert pool.take(True, "aggressive") is None
    assert pool.take(True, "always") is fresh


def test_closed_connections_are_skipped():
    pool = Pool()
    a, b = Conn(), Conn()
    pool.put(a)
    pool.put(b)
    b.transport.close()
    assert pool.take(False, "safe") is a


def test_purge_closes_what_stayed_idle_a_whole_period():
    pool = Pool()
    old, recent = Conn(), Conn()
    pool.put(old)
    pool.purge()  # period 0 ends: old was put during it, kept
    assert not old.transport.closed
    pool.put(recent)  # put again during period 1
    pool.purge()
    assert old.transport.closed and not recent.transport.closed
    assert pool.idle == [recent]
