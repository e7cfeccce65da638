"""Timeouts (coarse timer) and server maxconn with the backend queue."""

from __future__ import annotations

import http.client
import socket
import threading
import time

from tests.dataplane.rawhttp import exchange, read_response


def cfg(port: int, server_port: int, *, client="10s", queue="", maxconn="") -> str:
    return f"""
defaults
    mode http
    timeout connect 2s
    timeout client {client}
    timeout server 10s
{f"    timeout queue {queue}" if queue else ""}

listen li
    bind 127.0.0.1:{port}
    server s1 127.0.0.1:{server_port}{f" maxconn {maxconn}" if maxconn else ""}
"""


def test_client_timeout_closes_idle_keepalive_connection(launcher, port, http_servers):
    launcher.start(cfg(port, http_servers[0].port, client="400ms"), wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s).endswith(b"a GET / len=0 sha=e3b0c44298fc1c14")
        t0 = time.monotonic()
        assert s.recv(10) == b""  # closed silently after a served request
        assert 0.3 < time.monotonic() - t0 < 2.0


def _get(port: int, path: str, out: dict) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    out[path] = (resp.status, resp.read())


def test_server_maxconn_queues(launcher, port, http_servers):
    conf = cfg(port, http_servers[0].port, maxconn=1) + "    http-reuse always\n"
    launcher.start(conf, wait=port)
    out: dict = {}
    t0 = time.monotonic()
    threads = [threading.Thread(target=_get, args=(port, f"/slow/0.5?{i}", out)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [v[0] for v in out.values()] == [200, 200]
    assert time.monotonic() - t0 >= 1.0  # served one after the other
    # the connection went back to the pool before the queued stream took the slot
    assert http_servers[0].stats.connections == 1


def test_queue_timeout_gives_503(launcher, port, http_servers):
    launcher.start(cfg(port, http_servers[0].port, maxconn=1, queue="300ms"), wait=port)
    out: dict = {}
    slow = threading.Thread(target=_get, args=(port, "/slow/1.5", out))
    slow.start()
    assert http_servers[0].stats.started.wait(5)
    t0 = time.monotonic()
    resp, _ = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert time.monotonic() - t0 < 1.2
    slow.join(10)
    assert out["/slow/1.5"][0] == 200


def test_http_request_timeout_is_not_refreshed_by_slow_headers(launcher, port, http_servers):
    conf = cfg(port, http_servers[0].port).replace(
        "    timeout client 10s", "    timeout client 10s\n    timeout http-request 500ms"
    )
    launcher.start(conf, wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        t0 = time.monotonic()
        for c in b"GET / HTTP/1.1\r\nHost: xxxxxxx":
            s.sendall(bytes([c]))
            time.sleep(0.05)
            if time.monotonic() - t0 > 0.35:
                break
        resp = read_response(s)
        assert resp.startswith(b"HTTP/1.1 408 Request Time-out\r\n")
        assert 0.45 < time.monotonic() - t0 < 1.5


def test_http_keep_alive_timeout(launcher, port, http_servers):
    conf = cfg(port, http_servers[0].port).replace(
        "    timeout client 10s", "    timeout client 10s\n    timeout http-keep-alive 300ms"
    )
    launcher.start(conf, wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(s)
        t0 = time.monotonic()
        assert s.recv(10) == b""  # closed without a 408
        assert 0.2 < time.monotonic() - t0 < 1.5
