"""``balance first``: the lowest ``id`` with a free slot (``maxconn``)."""

from __future__ import annotations

from tests.lb.compare import Holder, both
from tests.lb.fakes import farm


def test_first_fills_servers_in_id_order_like_haproxy(launcher):
    h = Holder()
    steps = (
        [h.hold() for _ in range(5)]
        + [h.release(0)]
        + [h.hold() for _ in range(3)]
        + [h.release(2), h.release(3)]
        + [h.hold() for _ in range(3)]
    )
    servers = ["a maxconn 2 id 3", "b maxconn 2 id 1", "c maxconn 1", "d maxconn 3"]
    try:
        ha, py = both(launcher, "balance first", servers, steps, mode="tcp")
    finally:
        h.close()
    assert ha == py


def test_first_ignores_weights_unit():
    lb, (a, b) = farm(["a weight 1", "b weight 100"], balance=("first",))
    assert lb.pick(None, b"", None) is a
    a.set_maint(True)
    assert lb.pick(None, b"", None) is b


def test_first_down_and_back_like_haproxy(launcher):
    from tests.lb.compare import command

    h = Holder()
    steps = [h.hold() for _ in range(5)] + [command("disable server be/b")]
    steps += [h.release(0), h.release(1)] + [h.hold() for _ in range(6)]
    steps += [command("enable server be/b")] + [h.hold() for _ in range(4)]
    steps += [h.release(i) for i in range(2, 8)] + [h.hold() for _ in range(6)]
    servers = ["a maxconn 2 id 3", "b maxconn 2 id 1", "c maxconn 3", "d maxconn 30"]
    try:
        ha, py = both(launcher, "balance first", servers, steps, mode="tcp", stats=True)
    finally:
        h.close()
    assert ha == py
    assert len(ha) >= 20
