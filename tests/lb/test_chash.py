"""The consistent-hash ring: about 1/N of the keys move when one of N
servers leaves, and only those of the server that left."""

from __future__ import annotations

import pytest

from pyhaproxy.lb.hashes import full_hash, sdbm
from tests.lb.fakes import farm


def owners(lb, keys):
    return [lb.chash_hash(k, None).name for k in keys]


@pytest.mark.parametrize("n", [4, 5, 8])
def test_one_server_leaving_moves_about_one_nth(n):
    names = [f"s{i}" for i in range(n)]
    lb, servers = farm(names, balance=("uri",), hash_type=("consistent",))
    # the keys as HAProxy hashes them by default (sdbm + avalanche)
    keys = [full_hash(sdbm(f"/key/{i}".encode())) for i in range(4000)]
    before = owners(lb, keys)
    for gone in range(n):
        servers[gone].set_maint(True)
        after = owners(lb, keys)
        moved = [i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y]
        # only the keys of the server that left move...
        assert all(before[i] == f"s{gone}" for i in moved)
        assert f"s{gone}" not in after
        # ... and they are about 1/N of all keys
        assert 0.6 / n < len(moved) / len(keys) < 1.4 / n
        servers[gone].set_maint(False)
        assert owners(lb, keys) == before


def test_map_based_moves_most_keys():
    lb, servers = farm(["a", "b", "c", "d"], balance=("uri",))
    keys = [sdbm(f"/key/{i}".encode()) for i in range(1000)]
    before = [lb.map_hash(k).name for k in keys]
    servers[1].set_maint(True)
    after = [lb.map_hash(k).name for k in keys]
    assert sum(x != y for x, y in zip(before, after, strict=True)) > len(keys) / 2


def test_weight_sets_the_number_of_points():
    lb, servers = farm(["a weight 1", "b weight 3"], balance=("uri",), hash_type=("consistent",))
    assert len(lb.act) == (1 + 3) * 16
    servers[1].set_weight(10)  # above the configured weight: more points
    assert len(lb.act) == (1 + 10) * 16
    servers[1].set_weight(0)
    assert len(lb.act) == 16


def test_hash_balance_factor_bounds_the_load():
    lb, servers = farm(["a", "b", "c"], balance=("uri",), hash_type=("consistent",))
    object.__setattr__(lb.cfg, "balance_factor", 150)
    key = sdbm(b"/hot")
    got = []
    for _ in range(30):
        s = lb.chash_hash(key, None)
        s.cur += 1
        got.append(s)
    # one hot key, yet no server above 1.5 x the average load (+1)
    assert max(s.cur for s in servers) <= 30 * 150 // 100 // 3 + 1
    assert len({s.name for s in got}) >= 2
