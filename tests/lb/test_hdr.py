"""``balance hdr(NAME) [use_domain_only]``, compared with Debian's haproxy."""

from __future__ import annotations

import pytest

from tests.lb.compare import Req, both, mixed

SERVERS = ["a weight 3", "b", "c weight 2", "d weight 5", "e"]


@pytest.mark.parametrize("hash_type", ["", "consistent", "map-based crc32 avalanche"])
def test_hdr_matches_haproxy(launcher, hash_type):
    extra = f"    hash-type {hash_type}\n" if hash_type else ""
    ha, py = both(launcher, "balance hdr(X-Key)", SERVERS, mixed(30), extra)
    assert ha == py


def test_hdr_first_value_and_case_match_haproxy(launcher):
    values = ["alpha, beta", "beta", " alpha", "gamma,delta", "", "  ", "delta"] * 3
    steps = [Req("/", (("x-KEY", v),)) for v in values]
    ha, py = both(launcher, "balance hdr(X-Key)", SERVERS, steps)
    assert ha == py


def test_hdr_use_domain_only_matches_haproxy(launcher):
    # values of one length: HAProxy reads one byte past the value, which
    # must then be the same for every request
    hosts = [
        "www.haproxy.org",
        "api.example.com",
        "static.cdn.foo",
        "aaa.bbbbbbb.cc",
        "localhost.abcd",
        "xxxxxxxxxxxxxx",
        "s.example.co.uk",
    ]
    hosts = [h[:14].ljust(14, "x") for h in hosts]
    steps = [Req("/", (("Host", h),)) for h in hosts * 3]
    ha, py = both(launcher, "balance hdr(host) use_domain_only", SERVERS, steps)
    assert ha == py
