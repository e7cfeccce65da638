"""What clients see from pyhaproxy and Debian's haproxy with the same config."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.dataplane.conftest import DEFAULTS
from tests.dataplane.rawhttp import exchange
from tests.dataplane.servers import free_port

REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
]


def both(launcher, cfg_for) -> tuple[int, int]:
    """Start haproxy and pyhaproxy on the same configuration, other ports."""
    hp, pp = free_port(), free_port()
    launcher.haproxy(cfg_for(hp), wait=hp)
    launcher.start(cfg_for(pp), wait=pp)
    return hp, pp


def test_503_page_matches_haproxy(launcher):
    def cfg(port):
        return f"""{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
    default_backend be
backend be
    mode http
    server s1 127.0.0.1:9 disabled
"""

    hp, pp = both(launcher, cfg)
    for req in REQUESTS[:2]:
        theirs, ours = exchange(hp, req), exchange(pp, req)
        assert theirs[0].startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert ours == theirs


def test_http_request_return_matches_haproxy(launcher):
    def cfg(port):
        return f"""{DEFAULTS}
listen li
    mode http
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string "hello s1" hdr X-Name s1
"""

    hp, pp = both(launcher, cfg)
    for req in REQUESTS[:2]:
        assert exchange(pp, req) == exchange(hp, req)


def _silent_server(hold: float) -> tuple[int, threading.Thread]:
    """Accepts, reads the request, answers nothing, closes after ``hold``."""
    port = free_port()
    lsock = socket.create_server(("127.0.0.1", port))

    def run():
        conns = []
        lsock.settimeout(10)
        try:
            for _ in range(2):
                c, _ = lsock.accept()
                conns.append(c)
                threading.Timer(hold, c.close).start()
        except OSError:
            pass
        lsock.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return port, t


@pytest.mark.parametrize("status,hold", [(504, 5.0), (502, 0.2)])
def test_502_504_pages_match_haproxy(launcher, status, hold):
    sport, _ = _silent_server(hold)

    def cfg(port):
        return f"""
defaults
    timeout connect 2s
    timeout client 10s
    timeout server 1s
frontend fe
    mode http
    bind 127.0.0.1:{port}
    default_backend be
backend be
    mode http
    server s1 127.0.0.1:{sport}
"""

    hp, pp = both(launcher, cfg)
    results = {}

    def go(name, port):
        results[name] = exchange(port, REQUESTS[0])

    threads = [threading.Thread(target=go, args=(n, p)) for n, p in (("h", hp), ("p", pp))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert results["h"][0].split(b"\r\n")[0].split()[1] == str(status).encode()
    assert results["p"] == results["h"]


@pytest.mark.parametrize(
    "request_bytes",
    [b"", b"GET / HTTP/1.1\r\nHost", b"GARBAGE\x01 / HTTP/1.1\r\n\r\n"],
    ids=["408-idle", "408-partial", "400"],
)
def test_400_408_match_haproxy(launcher, request_bytes):
    def cfg(port):
        return f"""
defaults
    mode http
    timeout connect 2s
    timeout client 400ms
    timeout server 2s
listen li
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string "x"
"""

    hp, pp = both(launcher, cfg)
    theirs, ours = exchange(hp, request_bytes), exchange(pp, request_bytes)
    assert theirs[0].split(b"\r\n")[0] in (
        b"HTTP/1.1 408 Request Time-out",
        b"HTTP/1.1 400 Bad request",
    )
    assert ours == theirs
