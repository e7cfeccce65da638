"""``balance roundrobin``: the same server sequence as Debian's haproxy,
including unequal weights, weight changes and servers going down and back
(through the stats socket of both processes); and the weighted order's
properties."""

from __future__ import annotations

import pytest

from tests.lb.compare import Holder, Req, both, command, mixed
from tests.lb.fakes import farm, picks

WEIGHTED = ["a weight 3", "b weight 1", "c weight 2", "d weight 5", "e weight 0", "f"]


def test_weighted_order_matches_haproxy(launcher):
    ha, py = both(launcher, "balance roundrobin", WEIGHTED, [Req()] * 48)
    assert ha == py
    assert "e" not in py  # weight 0: no traffic


def test_state_and_weight_changes_match_haproxy(launcher):
    steps = (
        mixed(12)
        + [command("disable server be/b")]
        + mixed(12)
        + [command("set weight be/c 7")]
        + mixed(12)
        + [command("enable server be/b")]
        + mixed(12)
        + [command("set server be/a state drain")]
        + mixed(8)
        + [command("set server be/a state maint")]
        + mixed(4)
        + [command("set server be/a state ready"), command("set weight be/e 2")]
        + mixed(16)
    )
    ha, py = both(launcher, "balance roundrobin", WEIGHTED, steps, stats=True)
    assert ha == py
    assert "b" not in py[12:24] and "a" not in py[48:60]


def test_default_algorithm_is_roundrobin(launcher):
    ha, py = both(launcher, "", ["a", "b weight 2", "c"], [Req()] * 24)
    assert ha == py


def test_equal_weights_alternate_in_order():
    lb, _ = farm(["a", "b", "c"])
    assert picks(lb, 6) == "abcabc"


@pytest.mark.parametrize("weights", [(3, 1), (5, 3, 2), (1, 1, 7), (256, 1, 17), (10, 20, 30, 40)])
def test_weights_honoured_within_one_per_cycle(weights):
    """Over any prefix of the sequence, each server is within one request of
    its weighted share (over a full cycle: exactly its weight)."""
    names = "abcdefgh"[: len(weights)]
    lb, _ = farm([f"{n} weight {w}" for n, w in zip(names, weights, strict=True)])
    total = sum(weights)
    seq = picks(lb, total * 3)
    for cycle in range(3):
        part = seq[cycle * total : (cycle + 1) * total]
        assert [part.count(n) for n in names] == list(weights)
    for k in range(1, total + 1):
        for n, w in zip(names, weights, strict=True):
            assert abs(seq[:k].count(n) - k * w / total) <= 1.0 + 1e-9


def test_maint_and_back_unit():
    lb, (a, b) = farm(["a weight 3", "b weight 1"])
    picks(lb, 3)
    a.set_maint(True)
    assert picks(lb, 4) == "bbbb"
    a.set_maint(False)
    assert sorted(picks(lb, 8)) == sorted("aaaaaabb")


def test_backup_only_when_no_active_usable_unit():
    lb, (a, b, c) = farm(["a", "b backup", "c backup"])
    a.set_state("DOWN")
    assert picks(lb, 3) == "bbb"  # the first backup only
    a.set_state("UP")
    assert picks(lb, 2) == "aa"
    lb, (a, b, c) = farm(["a", "b backup", "c backup"], allbackups=True)
    a.set_maint(True)
    assert picks(lb, 4) == "bcbc"


def test_full_servers_are_skipped_unit():
    lb, (a, b) = farm(["a maxconn 1", "b"])
    a.cur = 1
    assert picks(lb, 3) == "bbb"
    lb, (a,) = farm(["a maxconn 1"])
    a.cur = 1
    assert lb.pick(None, b"", None) is None
    assert lb.has_candidates()


def test_queued_streams_take_the_freed_server_like_haproxy(launcher):
    """All servers full (maxconn): a queued connection gets the slot that
    frees first, whatever the round robin order (HAProxy's queues)."""
    h = Holder()
    steps = [h.hold(), h.hold(), h.hold(), h.send(), h.send()]
    steps += [h.release(1), h.collect(3), h.release(0), h.collect(4), h.release(2), h.hold()]
    servers = ["a maxconn 1", "b maxconn 1 weight 3", "c maxconn 1 weight 2"]
    try:
        ha, py = both(launcher, "balance roundrobin", servers, steps, mode="tcp")
    finally:
        h.close()
    assert ha == py


@pytest.mark.parametrize("balance", ["balance uri", "balance leastconn", "balance first"])
def test_queued_streams_with_other_algorithms_like_haproxy(launcher, balance):
    h = Holder()
    steps = [h.hold(), h.hold(), h.send(), h.send()]
    steps += [h.release(0), h.collect(2), h.release(1), h.collect(3), h.release(2), h.hold()]
    servers = ["a maxconn 1", "b maxconn 1 weight 3"]
    try:
        ha, py = both(launcher, balance, servers, steps, mode="tcp")
    finally:
        h.close()
    assert ha == py
