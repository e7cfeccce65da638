"""Unit tests without sockets: round robin, timer wheel, error pages."""

from __future__ import annotations

import asyncio

from pyhaproxy.dataplane.errors import ERROR_PAGES
from pyhaproxy.dataplane.lb import RoundRobin
from pyhaproxy.dataplane.timer import TimerWheel


class Srv:
    def __init__(self, name, weight=1, backup=False, enabled=True, maxconn=0):
        self.name, self.weight, self.backup, self.enabled = name, weight, backup, enabled
        self.maxconn, self.cur = maxconn, 0
        self.eligible = enabled and weight > 0

    def usable(self):
        return self.enabled and self.weight > 0 and (not self.maxconn or self.cur < self.maxconn)


def names(lb, n):
    return "".join(lb.pick().name for _ in range(n))


def test_round_robin_equal_weights_alternate_in_order():
    assert names(RoundRobin([Srv("a"), Srv("b"), Srv("c")]), 6) == "abcabc"


def test_round_robin_weights_are_smooth():
    assert names(RoundRobin([Srv("a", 3), Srv("b", 1)]), 8) == "aabaaaba"


def test_backup_only_when_no_active_usable():
    a, b = Srv("a", enabled=False), Srv("b", backup=True)
    lb = RoundRobin([a, b])
    assert names(lb, 2) == "bb"
    a.enabled = True
    assert names(lb, 2) == "aa"


def test_full_servers_are_skipped():
    a, b = Srv("a", maxconn=1), Srv("b")
    a.cur = 1
    lb = RoundRobin([a, b])
    assert names(lb, 3) == "bbb"
    assert RoundRobin([a]).pick() is None
    assert RoundRobin([a]).has_candidates()


class Obj:
    def __init__(self):
        self.deadline = None
        self.timer_slot = None
        self.fired = 0

    def on_timeout(self):
        self.fired += 1


def test_timer_fires_once_and_rearm_postpones():
    async def main():
        # generous margins (hundreds of ms): the machine is shared and noisy
        wheel = TimerWheel(asyncio.get_running_loop(), resolution=0.01)
        a, b, c = Obj(), Obj(), Obj()
        wheel.arm(a, 300)
        wheel.arm(b, 300)
        wheel.arm(c, 300)
        wheel.disarm(c)
        await asyncio.sleep(0.1)
        wheel.arm(b, 1000)  # activity: postponed
        await asyncio.sleep(0.6)
        assert (a.fired, b.fired, c.fired) == (1, 0, 0)
        await asyncio.sleep(0.9)
        assert (a.fired, b.fired, c.fired) == (1, 1, 0)
        wheel.arm(a, 5000)
        wheel.arm(a, 100)  # earlier deadline: filed earlier
        await asyncio.sleep(0.5)
        assert a.fired == 2
        wheel.close()

    asyncio.run(main())


def test_error_pages_shape():
    page = ERROR_PAGES[(503, False)]
    assert page.startswith(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\n")
    assert b"connection: close" in ERROR_PAGES[(503, True)]


def test_chunk_walker_finds_the_end_wherever_segments_cut():
    from pyhaproxy.dataplane.http import ChunkWalker

    body = b"5\r\nhello\r\n1a;x=y\r\n" + b"z" * 26 + b"\r\n0\r\nT: 1\r\n\r\n"
    tail = b"GET / HTTP/1.1\r\n"
    for cut in range(1, len(body)):
        w = ChunkWalker()
        assert w.feed(body[:cut], 0) == -1
        assert w.feed(body[cut:] + tail, 0) == len(body) - cut
    assert ChunkWalker().feed(b"xx" + body + tail, 2) == len(body) + 2


def test_server_port_offsets_keep_their_sign():
    from pyhaproxy.config.units import parse_address

    minus = parse_address("127.0.0.1:-10", listen=False, port_required=False)
    plus = parse_address("127.0.0.1:+10", listen=False, port_required=False)
    assert (minus.port, minus.port_offset) == (-10, True)
    assert (plus.port, plus.port_offset) == (10, True)
