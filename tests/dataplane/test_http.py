"""`mode http` through the real process with real clients and servers."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import subprocess
import time

import pytest

from tests.dataplane.conftest import DEFAULTS
from tests.dataplane.rawhttp import exchange, read_response


def http_cfg(port: int, servers, extra: str = "") -> str:
    lines = "\n".join(
        f"    server s{i} 127.0.0.1:{s.port}{extra}" for i, s in enumerate(servers, 1)
    )
    return f"""{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
    default_backend be

backend be
    mode http
{lines}
"""


def _requests(port: int, n: int) -> list[bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    names = []
    for i in range(n):
        conn.request("GET", f"/r{i}")
        resp = conn.getresponse()
        assert resp.status == 200
        names.append(resp.read().split()[0])
    conn.close()
    return names


@pytest.mark.parametrize(
    "reuse,conns",
    [("", (2, 1)), ("always", (1, 1)), ("aggressive", (1, 1)), ("never", (2, 2))],
    ids=["safe-default", "always", "aggressive", "never"],
)
def test_round_robin_and_keepalive_reuse(launcher, port, http_servers, reuse, conns):
    cfg = http_cfg(port, http_servers) + (f"    http-reuse {reuse}\n" if reuse else "")
    launcher.start(cfg, wait=port)
    assert _requests(port, 6) == [b"a", b"b"] * 3
    # a second client connection: its first request takes an idle server
    # connection only with "always", or "aggressive" as they served 3 requests;
    # with "never" each client keeps its own server connections
    assert _requests(port, 4) == [b"a", b"b"] * 2
    a, b = http_servers
    assert (a.stats.requests, b.stats.requests) == (5, 5)
    assert (a.stats.connections, b.stats.connections) == conns


def test_http10_client(launcher, port, http_servers):
    launcher.start(http_cfg(port, http_servers[:1]), wait=port)
    resp, closed = exchange(port, b"GET /old HTTP/1.0\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 200 OK\r\n")
    assert resp.endswith(b"a GET /old len=0 sha=e3b0c44298fc1c14")
    assert closed


def test_post_bodies_content_length_and_chunked(launcher, port, http_servers):
    launcher.start(http_cfg(port, http_servers[:1]), wait=port)
    body = b"x" * 100_000
    digest = hashlib.sha256(body).hexdigest()[:16]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/cl", body=body)
    assert conn.getresponse().read() == f"a POST /cl len=100000 sha={digest}".encode()
    conn.request("POST", "/ch", body=iter([body[:30000], body[30000:]]), encode_chunked=True)
    assert conn.getresponse().read() == f"a POST /ch len=100000 sha={digest}".encode()
    conn.request("GET", "/chunked")
    resp = conn.getresponse()
    assert resp.getheader("transfer-encoding") == "chunked"
    assert resp.read() == b"".join(b"chunk-%d;" % i for i in range(5))
    conn.close()
    assert http_servers[0].stats.connections == 1


def test_10mb_body_both_ways(launcher, port, http_servers):
    launcher.start(http_cfg(port, http_servers[:1]), wait=port)
    body = os.urandom(10 * 1024 * 1024)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("POST", "/echo", body=body)
    resp = conn.getresponse()
    assert resp.status == 200
    assert hashlib.sha256(resp.read()).digest() == hashlib.sha256(body).digest()
    conn.close()


def test_head_204_304(launcher, port, http_servers):
    launcher.start(http_cfg(port, http_servers[:1]), wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
        head = read_response(s, head_req=True)
        assert head.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 36\r\n")
        assert head.endswith(b"\r\n\r\n")
        for path, status in ((b"/204", b"204"), (b"/304", b"304"), (b"/after", b"200")):
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = read_response(s, head_req=path != b"/after")
            assert resp.split()[1] == status
        assert resp.endswith(b"a GET /after len=0 sha=e3b0c44298fc1c14")


def test_pipelined_requests(launcher, port, http_servers):
    launcher.start(http_cfg(port, http_servers), wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n")
        one = b"HTTP/1.1 200 OK\r\nContent-Length: 36\r\n\r\n%s GET /p%d len=0 sha=e3b0c44298fc1c14"
        expected = one % (b"a", 1) + one % (b"b", 2)
        data = b""
        while len(data) < len(expected):
            data += s.recv(65536)
        assert data == expected


@pytest.mark.parametrize(
    "first",
    [
        b"POST /p1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /p1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
@pytest.mark.parametrize("split", [None, 7, 60], ids=["one-segment", "cut-7", "cut-60"])
def test_pipelined_after_request_with_body(launcher, port, http_servers, first, split):
    """The next request starts right after the body, wherever segments cut."""
    launcher.start(http_cfg(port, http_servers[:1]), wait=port)
    second = b"GET /p2 HTTP/1.1\r\nHost: x\r\n\r\n"
    payload = first + second
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if split is None:
            s.sendall(payload)
        else:
            cut = len(first) - split
            s.sendall(payload[:cut])
            time.sleep(0.2)
            s.sendall(payload[cut:])
        data = b""
        while data.count(b"HTTP/1.1 ") < 2 or not data.endswith(b"sha=e3b0c44298fc1c14"):
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
    one, two = data.split(b"HTTP/1.1 ")[1:]
    sha = hashlib.sha256(b"hello").hexdigest()[:16].encode()
    assert one.endswith(b"a POST /p1 len=5 sha=" + sha)
    assert two.endswith(b"a GET /p2 len=0 sha=e3b0c44298fc1c14")


def test_curl_through_proxy(launcher, port, http_servers):
    launcher.start(http_cfg(port, http_servers), wait=port)
    out = subprocess.run(
        ["curl", "-s", f"http://127.0.0.1:{port}/c1", f"http://127.0.0.1:{port}/c2"],
        capture_output=True,
        timeout=10,
    )
    assert out.stdout == (
        b"a GET /c1 len=0 sha=e3b0c44298fc1c14b GET /c2 len=0 sha=e3b0c44298fc1c14"
    )


def test_backup_used_only_when_active_disabled(launcher, port, http_servers):
    a, b = http_servers
    cfg = http_cfg(port, []) + (
        f"    server s1 127.0.0.1:{a.port} disabled\n    server s2 127.0.0.1:{b.port} backup\n"
    )
    launcher.start(cfg, wait=port)
    resp, _ = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert resp.endswith(b"b GET / len=0 sha=e3b0c44298fc1c14")


def test_weights(launcher, port, http_servers):
    a, b = http_servers
    cfg = http_cfg(port, []) + (
        f"    server s1 127.0.0.1:{a.port} weight 3\n    server s2 127.0.0.1:{b.port} weight 1\n"
    )
    launcher.start(cfg, wait=port)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    names = []
    for _ in range(8):
        conn.request("GET", "/")
        names.append(conn.getresponse().read()[:1])
    assert names.count(b"a") == 6 and names.count(b"b") == 2


def test_pipelined_then_half_close(launcher, port, http_servers):
    launcher.start(http_cfg(port, http_servers[:1]), wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /h1 HTTP/1.1\r\nHost: x\r\n\r\nGET /h2 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.endswith(b"a GET /h2 len=0 sha=e3b0c44298fc1c14")


def test_upgrade_becomes_tunnel(launcher, port, http_servers):
    launcher.start(http_cfg(port, http_servers[:1]), wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            b"GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        for msg in (b"one", b"two"):
            s.sendall(msg)
            assert s.recv(10) == msg


def test_use_backend_without_condition_wins_over_default(launcher, port, http_servers):
    a, b = http_servers
    cfg = f"""{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
    use_backend second
    default_backend first
backend first
    mode http
    server s1 127.0.0.1:{a.port}
backend second
    mode http
    server s1 127.0.0.1:{b.port}
"""
    launcher.start(cfg, wait=port)
    resp, _ = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert resp.endswith(b"b GET / len=0 sha=e3b0c44298fc1c14")


def test_no_backend_gives_503(launcher, port):
    cfg = f"""{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
"""
    launcher.start(cfg, wait=port)
    resp, closed = exchange(port, b"GET / HTTP/1.0\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert closed
