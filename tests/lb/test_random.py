"""``balance random[(DRAWS)]``: random keys on the consistent ring (no
sequence can be compared with HAProxy: the draws are random)."""

from __future__ import annotations

from collections import Counter

from tests.lb.compare import Req, both
from tests.lb.fakes import farm


def test_random_respects_weights():
    lb, _ = farm(["a weight 1", "b weight 3"], balance=("random(1)",))
    seen = Counter(lb.pick(None, b"", None).name for _ in range(4000))
    assert 0.18 < seen["a"] / 4000 < 0.32


def test_two_draws_pick_the_least_loaded():
    lb, (a, b) = farm(["a", "b"], balance=("random",))
    a.cur = 10
    picks = Counter(lb.pick(None, b"", None).name for _ in range(400))
    assert picks["b"] > 250  # a only when both draws land on a


def test_full_choice_means_queue():
    lb, (a,) = farm(["a maxconn 1"], balance=("random",))
    a.cur = 1
    assert lb.pick(None, b"", None) is None
    assert lb.has_candidates()


def test_random_serves_through_the_process(launcher):
    ha, py = both(launcher, "balance random(3)", ["a", "b weight 0", "c"], [Req()] * 20)
    assert set(py) <= {"a", "c"} and set(ha) <= {"a", "c"}


def test_draws_are_honoured():
    """With DRAWS draws the pick is the least loaded of DRAWS random servers:
    a loaded server among 4 is chosen with probability (1/4)^DRAWS."""
    for draws, most in ((1, 0.32), (2, 0.10), (4, 0.02)):
        lb, servers = farm(["a", "b", "c", "d"], balance=(f"random({draws})",))
        servers[0].cur = 5
        got = Counter(lb.pick(None, b"", None).name for _ in range(4000))
        assert got["a"] / 4000 < most
        if draws == 1:
            assert got["a"] / 4000 > 0.18  # one draw: load is ignored


def test_random_down_and_back_through_both_processes(launcher):
    """No sequence to compare (the draws are random): the same servers are
    used, weights are respected, a DOWN server and a weight-0 one get
    nothing, in haproxy and in pyhaproxy alike."""
    from tests.lb.compare import command

    servers = ["a weight 1", "b weight 3", "c", "z weight 0"]
    steps = [Req()] * 40 + [command("disable server be/b")] + [Req()] * 30
    steps += [command("enable server be/b")] + [Req()] * 40
    for balance in ("balance random", "balance random(1)"):
        ha, py = both(launcher, balance, servers, steps, stats=True)
        for seq in (ha, py):
            assert "z" not in seq and "b" not in seq[40:70]
            up = seq[:40] + seq[70:]
            assert set(up) == {"a", "b", "c"}
            assert up.count("b") > up.count("a")  # weight 3 against 1
