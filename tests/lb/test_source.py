"""``balance source``: the client address hashed onto the map or the ring;
same servers as Debian's haproxy for sources 127.0.0.x."""

from __future__ import annotations

import pytest

from tests.lb.compare import Holder, Req, both, command, mixed

SERVERS = ["a weight 3", "b", "c weight 2", "d weight 5 id 9", "e"]


@pytest.mark.parametrize(
    "hash_type",
    ["", "map-based djb2 avalanche", "consistent", "consistent wt6", "map-based crc32"],
)
def test_source_matches_haproxy(launcher, hash_type):
    extra = f"    hash-type {hash_type}\n" if hash_type else ""
    steps = [Req("/", (), f"127.0.0.{i}") for i in range(1, 25)]
    ha, py = both(launcher, "balance source", SERVERS, steps, extra)
    assert ha == py


@pytest.mark.parametrize("hash_type", ["map-based", "consistent"])
def test_source_server_down_and_back_matches_haproxy(launcher, hash_type):
    steps = mixed(20) + [command("disable server be/a")] + mixed(20)
    steps += [command("enable server be/a")] + mixed(20)
    ha, py = both(
        launcher, "balance source", SERVERS, steps, f"    hash-type {hash_type}\n", stats=True
    )
    assert ha == py


def test_source_in_tcp_mode_matches_haproxy(launcher):
    steps = [Req("/", (), f"127.0.0.{i}") for i in range(1, 25)]
    ha, py = both(launcher, "balance source", SERVERS, steps, mode="tcp")
    assert ha == py


def test_hash_balance_factor_spreads_a_hot_source_like_haproxy(launcher):
    """Bounded loads: connections held from one address leave its server
    once it holds more than 125% of its share (hash-balance-factor)."""
    h = Holder()
    steps = [h.hold("127.0.0.7") for _ in range(8)] + [h.release(0), h.release(1)]
    steps += [h.hold("127.0.0.7") for _ in range(3)] + [h.hold("127.0.0.9") for _ in range(3)]
    extra = "    hash-type consistent\n    hash-balance-factor 125\n"
    try:
        ha, py = both(launcher, "balance source", SERVERS, steps, extra, mode="tcp")
    finally:
        h.close()
    assert ha == py
    assert len(set(py)) > 1


@pytest.mark.parametrize("hash_type", ["map-based", "consistent"])
def test_source_ipv4_mapped_on_a_v4v6_listener_matches_haproxy(launcher, hash_type):
    """On ``bind :::PORT v4v6`` IPv4 clients are ::ffff:a.b.c.d addresses:
    the four 32-bit words are XORed."""
    steps = [Req("/", (), f"127.0.0.{i}") for i in range(1, 25)]
    ha, py = both(
        launcher,
        "balance source",
        SERVERS,
        steps,
        f"    hash-type {hash_type}\n",
        bind=":::{port} v4v6",
    )
    assert ha == py


def test_hash_balance_factor_down_and_back_like_haproxy(launcher):
    h = Holder()
    srcs = [f"127.0.0.{1 + (i * 7) % 5}" for i in range(24)]
    steps = [h.hold(s) for s in srcs[:8]] + [command("disable server be/d")]
    steps += [h.hold(s) for s in srcs[8:16]] + [h.release(i) for i in (0, 2, 4)]
    steps += [command("enable server be/d")] + [h.hold(s) for s in srcs[16:]]
    extra = "    hash-type consistent\n    hash-balance-factor 150\n"
    try:
        ha, py = both(launcher, "balance source", SERVERS, steps, extra, mode="tcp", stats=True)
    finally:
        h.close()
    assert ha == py
    assert "d" not in py[8:16]
