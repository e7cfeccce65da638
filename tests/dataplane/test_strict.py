"""Strict HTTP/1.1 parsing: what haproxy 2.6 refuses with its 400 page.

Request-smuggling vectors go through raw sockets; the server behind must
never see the smuggled request.
"""

from __future__ import annotations

import asyncio

import pytest

from pyhaproxy.dataplane.errors import BAD_REQUEST
from pyhaproxy.dataplane.http import HeadError, check_head
from tests.dataplane.conftest import DEFAULTS
from tests.dataplane.rawhttp import exchange
from tests.dataplane.servers import Background, free_port

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

# refused by haproxy 2.6 and pyhaproxy alike (checked against Debian's haproxy)
REFUSED = {
    "cl-conflict": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\n"
    b"abc" + SMUGGLED,
    "cl-list-conflict": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 40\r\n\r\nabc",
    "cl-invalid": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3a\r\n\r\nabc" + SMUGGLED,
    "cl-negative": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + SMUGGLED,
    "te-not-chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + SMUGGLED,
    "te-chunked-not-last": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n"
    b"\r\n0\r\n\r\n" + SMUGGLED,
    "space-before-colon": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc",
    "bad-header-name": b"GET / HTTP/1.1\r\nHost: x\r\nX(a): 1\r\n\r\n",
    "empty-header-name": b"GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n",
    "bad-method": b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-version": b"GET / HTTP/1.x\r\nHost: x\r\n\r\n",
    "no-version": b"GET /\r\n\r\n",
    "space-in-uri": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    "bad-chunk-size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nabc\r\n0\r\n\r\n",
    "101-headers": b"GET / HTTP/1.1\r\n"
    + b"".join(b"X-%d: v\r\n" % i for i in range(101))
    + b"\r\n",
    "head-over-bufsize": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 16400 + b"\r\n\r\n",
    "huge-head": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
}

# refused by pyhaproxy although haproxy 2.6 repairs them (it drops the
# Content-Length and forwards chunked, or folds the line): stricter, never laxer
STRICTER = {
    "cl-and-te": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "te-and-cl": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4"
    b"\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
}

ACCEPTED = {
    "100-headers": b"GET / HTTP/1.1\r\n"
    + b"".join(b"X-%d: v\r\n" % i for i in range(100))
    + b"\r\n",
    "15000-byte-head": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 15000 + b"\r\n\r\n",
    "same-host-twice": b"GET / HTTP/1.1\r\nHost: x\r\nhost: X\r\n\r\n",
}


def cfg(port: int, srv: int, glob: str = "") -> str:
    return f"""global
{glob}
{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
    default_backend be
backend be
    mode http
    server s1 127.0.0.1:{srv}
"""


@pytest.fixture
def proxy(launcher, http_servers):
    port = free_port()
    launcher.start(cfg(port, http_servers[0].port), wait=port)
    return port, http_servers[0].stats


@pytest.mark.parametrize("name", list(REFUSED) + list(STRICTER))
def test_refused_with_400_and_nothing_forwarded(proxy, name):
    port, stats = proxy
    resp, closed = exchange(port, (REFUSED | STRICTER)[name])
    assert resp == BAD_REQUEST
    assert closed
    assert stats.requests == 0
    assert "/smuggled" not in stats.paths


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_accepted_at_the_limits(proxy, name):
    port, stats = proxy
    resp, _ = exchange(port, ACCEPTED[name])
    assert resp.startswith(b"HTTP/1.1 200 OK\r\n")
    assert stats.requests == 1


def test_refused_like_haproxy(launcher, http_servers):
    srv = http_servers[0].port
    hp, pp = free_port(), free_port()
    launcher.haproxy(cfg(hp, srv), wait=hp)
    launcher.start(cfg(pp, srv), wait=pp)
    for name, req in REFUSED.items():
        assert exchange(hp, req) == exchange(pp, req) == (BAD_REQUEST, True), name
    assert http_servers[0].stats.requests == 0


def test_tune_http_maxhdr_and_bufsize(launcher, http_servers):
    port = free_port()
    launcher.start(
        cfg(port, http_servers[0].port, "    tune.http.maxhdr 10\n    tune.bufsize 4096"),
        wait=port,
    )
    ten = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(10)) + b"\r\n"
    nine = ten.replace(b"X-9: v\r\n", b"")
    assert exchange(port, ten)[0] == BAD_REQUEST
    assert exchange(port, nine)[0].startswith(b"HTTP/1.1 200 OK")
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 3100 + b"\r\n\r\n"
    assert exchange(port, big)[0] == BAD_REQUEST


def _bad_server(answer: bytes):
    async def handle(reader, writer, stats):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(0.5)

    return handle


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n",
    ],
    ids=["cl-conflict", "bad-name", "bad-status", "101-headers"],
)
def test_invalid_response_is_502(launcher, answer):
    srv = Background(_bad_server(answer))
    try:
        port = free_port()
        launcher.start(cfg(port, srv.port), wait=port)
        resp, _ = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert resp.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    finally:
        srv.close()


def test_check_head_unit():
    limits = (100, 5)
    check_head(None, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", limits, True)
    check_head([b"GET / HT"], b"TP/1.1\r\nHost: a\r\nHOST: A\r\n\r\n", limits, True)
    for bad in (
        b"GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: " + b"a" * 100 + b"\r\n\r\n",
    ):
        with pytest.raises(HeadError):
            check_head(None, bad, limits, True)
