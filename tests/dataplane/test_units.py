"""Unit tests without sockets: timer wheel, error pages (balancers: tests/lb/)."""

from __future__ import annotations

import asyncio

from pyhaproxy.dataplane.errors import ERROR_PAGES
from pyhaproxy.dataplane.timer import TimerWheel


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


def test_idle_wheel_wakes_only_when_a_slot_is_due():
    """Connections armed far ahead cost no wake-ups before their slot:
    an idle process sleeps (HAProxy's idle workers use no CPU)."""

    async def main():
        wheel = TimerWheel(asyncio.get_running_loop(), resolution=0.01)
        ticks = 0
        tick = wheel._tick

        def counted():
            nonlocal ticks
            ticks += 1
            tick()

        wheel._tick = counted
        far, near = Obj(), Obj()
        wheel.arm(far, 60000)
        await asyncio.sleep(0.3)
        assert ticks == 0 and far.fired == 0
        wheel.arm(near, 100)  # earlier than anything filed: the wheel wakes for it
        await asyncio.sleep(0.5)
        assert near.fired == 1 and far.fired == 0
        assert ticks <= 2
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
