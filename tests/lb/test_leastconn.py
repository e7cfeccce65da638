"""``balance leastconn``: the server with the fewest streams per weight,
round robin among equals -- compared with Debian's haproxy while TCP
connections are held open and released."""

from __future__ import annotations

from tests.lb.compare import Holder, Req, both, command, pause
from tests.lb.fakes import farm


def test_leastconn_held_connections_match_haproxy(launcher):
    h = Holder()
    steps = (
        [h.hold() for _ in range(8)]
        + [h.release(1), h.release(4)]
        + [h.hold() for _ in range(6)]
        + [Req(), pause(), Req(), pause(), Req(), pause()]
        + [h.release(0), h.release(2), h.release(3)]
        + [h.hold() for _ in range(6)]
    )
    try:
        ha, py = both(
            launcher,
            "balance leastconn",
            ["a weight 1", "b weight 3", "c weight 2", "d weight 0", "e"],
            steps,
            mode="tcp",
        )
    finally:
        h.close()
    assert ha == py
    assert "d" not in py


def test_leastconn_sequential_and_down_matches_haproxy(launcher):
    one = [Req(), pause()]
    steps = (
        one * 8
        + [command("disable server be/b")]
        + one * 8
        + [command("enable server be/b")]
        + one * 8
    )
    ha, py = both(launcher, "balance leastconn", ["a", "b weight 4", "c"], steps, stats=True)
    assert ha == py


def test_leastconn_prefers_idle_then_weight_unit():
    lb, (a, b) = farm(["a weight 1", "b weight 2"], balance=("leastconn",))
    got = []
    for _ in range(6):
        s = lb.pick(None, b"", None)
        s.cur += 1
        lb.take(s)
        got.append(s.name)
    # idle first, then by (n + 1) / weight, ties in tree order
    assert got == ["a", "b", "b", "b", "a", "b"]
    a.cur -= 1
    lb.drop(a)
    assert lb.pick(None, b"", None) is a


def test_leastconn_held_down_and_back_match_haproxy(launcher):
    h = Holder()
    steps = [h.hold() for _ in range(7)] + [command("disable server be/c")]
    steps += [h.release(0), h.release(3)] + [h.hold() for _ in range(6)]
    steps += [command("enable server be/c"), command("set weight be/a 4")]
    steps += [h.hold() for _ in range(5)] + [h.release(i) for i in (1, 2, 4, 5)]
    steps += [h.hold() for _ in range(6)]
    servers = ["a weight 1", "b weight 3", "c weight 2", "d"]
    try:
        ha, py = both(launcher, "balance leastconn", servers, steps, mode="tcp", stats=True)
    finally:
        h.close()
    assert ha == py
    assert len(ha) >= 20
