"""Every hashing algorithm and option, every hash function with and without
``avalanche``, on both hash types: the same servers as Debian's haproxy
for a mixed request sequence during which one server goes DOWN (disabled)
and back, another drains and comes back (stats socket of both processes)."""

from __future__ import annotations

import pytest

from tests.lb.compare import Req, both, command, mixed

SERVERS = ["a weight 3", "b", "c weight 2", "d weight 5 id 9", "e"]


def down_and_back(header: str = "X-Key", extra: list[Req] | None = None) -> list:
    reqs = mixed(48, header) + (extra or [])
    n = len(reqs) // 4
    return (
        reqs[:n]
        + [command("disable server be/b")]
        + reqs[n : 2 * n]
        + [command("set server be/c state drain")]
        + reqs[2 * n : 3 * n]
        + [command("enable server be/b"), command("set server be/c state ready")]
        + reqs[3 * n :]
    )


def check(launcher, balance: str, hash_type: str, steps: list) -> None:
    extra = f"    hash-type {hash_type}\n" if hash_type else ""
    ha, py = both(launcher, balance, SERVERS, steps, extra, stats=True)
    assert ha == py
    n = sum(isinstance(s, Req) for s in steps) // 4
    assert "b" not in py[n : 2 * n]  # down: no traffic
    assert "c" not in py[2 * n : 3 * n]  # draining: no new traffic
    assert len(set(py)) >= 2  # the keys spread (a test that can fail)


FUNCTIONS = [
    f"{t} {f}{a}"
    for t in ("map-based", "consistent")
    for f in ("sdbm", "djb2", "wt6", "crc32")
    for a in ("", " avalanche")
]


@pytest.mark.parametrize("hash_type", FUNCTIONS)
def test_uri_every_hash_function_down_and_back(launcher, hash_type):
    check(launcher, "balance uri", hash_type, down_and_back())


@pytest.mark.parametrize(
    "options", ["whole", "len 4", "depth 1", "depth 2 len 12", "path-only", "path-only whole"]
)
@pytest.mark.parametrize("hash_type", ["map-based", "consistent"])
def test_uri_options_down_and_back(launcher, options, hash_type):
    check(launcher, f"balance uri {options}", hash_type, down_and_back())


@pytest.mark.parametrize("hash_type", ["map-based", "consistent", "consistent crc32"])
def test_hdr_down_and_back(launcher, hash_type):
    check(launcher, "balance hdr(X-Key)", hash_type, down_and_back())


# HAProxy's get_server_hh reads the byte just after the value first (a dot
# there would move the key), and that byte is whatever the request buffer
# held: values of one length keep it the same for every request
HOSTS = [
    h[:14].ljust(14, "x")
    for h in (
        "www.haproxy.org",
        "api.example.com",
        "static.cdn.foo",
        "aaa.bbbbbbb.cc",
        "localhost.abcd",
        "xxxxxxxxxxxxxx",
        "s.example.co.uk",
        "a.b.c.d.e.f.gh",
    )
]


@pytest.mark.parametrize("hash_type", ["map-based", "consistent"])
def test_hdr_use_domain_only_down_and_back(launcher, hash_type):
    reqs = [
        Req(f"/p{i}", (("Host", HOSTS[(i * 3) % len(HOSTS)]),), f"127.0.0.{1 + i % 9}")
        for i in range(48)
    ]
    steps = down_and_back()
    it = iter(reqs)
    steps = [next(it) if isinstance(s, Req) else s for s in steps]
    check(launcher, "balance hdr(Host) use_domain_only", hash_type, steps)


def post(i: int, body: bytes) -> Req:
    return Req("/form" if i % 2 else "/form?x=1", method="POST", body=body)


POSTS = [
    post(i, b)
    for i, b in enumerate(
        [
            b"a=1&user=u1&z=2",
            b"user=u2",
            b"user=",
            b"user= leading-blank",
            b"user=a b c&x=1",  # only the first byte is judged
            b"user=\x01binary",  # not URI-encoded: no parameter
            b"nouser=1",
            b"x=1&user=u8&user=u9",
        ]
    )
]


@pytest.mark.parametrize("modifier", ["", "check_post"])
@pytest.mark.parametrize("hash_type", ["map-based", "consistent wt6 avalanche"])
def test_url_param_down_and_back(launcher, modifier, hash_type):
    steps = down_and_back(extra=POSTS * 2)
    check(launcher, f"balance url_param user {modifier}", hash_type, steps)


@pytest.mark.parametrize("hash_type", ["map-based", "consistent", "consistent djb2 avalanche"])
def test_source_down_and_back(launcher, hash_type):
    check(launcher, "balance source", hash_type, down_and_back())


@pytest.mark.parametrize("balance", ["balance static-rr", "balance roundrobin"])
def test_round_robins_down_and_back(launcher, balance):
    check(launcher, balance, "", down_and_back())
