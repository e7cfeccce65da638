"""``balance static-rr``: HAProxy's map walked in turns."""

from __future__ import annotations

from tests.lb.compare import Req, both, command
from tests.lb.fakes import farm, picks


def test_static_rr_matches_haproxy(launcher):
    servers = ["a weight 4", "b weight 2", "c weight 6", "d weight 0", "e"]
    ha, py = both(launcher, "balance static-rr", servers, [Req()] * 40)
    assert ha == py


def test_static_rr_down_and_back_matches_haproxy(launcher):
    steps = (
        [Req()] * 10
        + [command("disable server be/c")]
        + [Req()] * 10
        + [command("enable server be/c")]
        + [Req()] * 10
        + [command("set weight be/a 0")]
        + [Req()] * 6
        + [command("set weight be/a 100%")]
        + [Req()] * 6
    )
    ha, py = both(
        launcher, "balance static-rr", ["a weight 4", "b weight 2", "c weight 6"], steps, stats=True
    )
    assert ha == py


def test_map_divides_weights_by_their_gcd():
    lb, _ = farm(["a weight 40", "b weight 20"], balance=("static-rr",))
    assert picks(lb, 6) == "aabaab"
    assert lb.tot_weight == 3
