"""`retries` (refused and timed-out connects), `option redispatch`, `option
abortonclose` and server `maxqueue`, each checked against Debian's haproxy
too (the ``proxy`` fixture)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.dataplane.rawhttp import read_response
from tests.dataplane.servers import Background, echo_tcp, free_port, http_app
from tests.dataplane.wsutil import proxy  # noqa: F401


def _cfg(port: int, servers: list[int], extra: str = "", connect: str = "2s", srv="") -> str:
    lines = "\n".join(f"    server s{i} 127.0.0.1:{p}{srv}" for i, p in enumerate(servers))
    return f"""
defaults
    mode http
    timeout connect {connect}
    timeout client 10s
    timeout server 10s
{extra}
listen li
    bind 127.0.0.1:{port}
{lines}
"""


def _get(port: int, path: str = "/") -> tuple[int, float]:
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        resp = read_response(s)
    return int(resp.split(b" ", 2)[1]), time.monotonic() - t0


@pytest.fixture
def good():
    srv = Background(http_app("good"))
    yield srv
    srv.close()


@pytest.fixture
def blackhole():
    """A port whose SYNs go unanswered: its accept queue is full."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", free_port()))
    sock.listen(0)
    filler = socket.create_connection(sock.getsockname(), timeout=2)
    yield sock.getsockname()[1]
    filler.close()
    sock.close()


def test_redispatch_moves_a_refused_connect_to_another_server(proxy, port, good):  # noqa: F811
    dead = free_port()
    proxy(_cfg(port, [dead, good.port], "    retries 3\n    option redispatch"), port)
    for _ in range(4):
        status, took = _get(port)
        assert status == 200
        assert took < 0.5  # no turn-around: the retry goes to the other server


def test_without_redispatch_retries_stay_on_the_server_then_503(proxy, port, good):  # noqa: F811
    dead = free_port()
    proxy(_cfg(port, [dead, good.port], "    retries 2", connect="500ms"), port)
    results = [_get(port) for _ in range(4)]
    assert sorted(s for s, _ in results) == [200, 200, 503, 503]
    for status, took in results:
        if status == 503:  # two turn-arounds of min(timeout connect, 1s)
            assert 0.8 < took < 3.0, took


def test_a_connect_timeout_is_retried(proxy, port, blackhole):  # noqa: F811
    proxy(_cfg(port, [blackhole], "    retries 2", connect="300ms"), port)
    status, took = _get(port)
    assert status == 503
    # three attempts of 300ms, no turn-around after a timeout (as haproxy 2.6)
    assert 0.8 < took < 2.0, took


def test_a_connect_timeout_is_redispatched(proxy, port, blackhole, good):  # noqa: F811
    conf = _cfg(port, [blackhole, good.port], "    retries 3\n    option redispatch", "300ms")
    proxy(conf, port)
    for _ in range(4):
        status, took = _get(port)
        assert status == 200
        assert took < 1.5, took


def _queued_then_half_closed(port: int, good: Background) -> tuple[list, bytes]:
    busy: list = []
    thread = threading.Thread(target=lambda: busy.append(_get(port, "/slow/1")[0]))
    thread.start()
    assert good.stats.started.wait(5)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /queued HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)  # queued behind /slow/1 (maxconn 1)
        s.shutdown(socket.SHUT_WR)
        resp = read_response(s)
    thread.join(10)
    return busy, resp


def test_abortonclose_drops_a_queued_request_whose_client_closed(proxy, port, good):  # noqa: F811
    proxy(_cfg(port, [good.port], "    option abortonclose", srv=" maxconn 1"), port)
    time.sleep(0.2)
    good.stats.paths.clear()
    good.stats.started.clear()
    busy, resp = _queued_then_half_closed(port, good)
    assert resp == b""  # closed without an answer
    assert busy == [200]
    time.sleep(0.3)
    assert "/queued" not in good.stats.paths


def test_without_abortonclose_a_half_closed_queued_request_is_served(proxy, port, good):  # noqa: F811
    proxy(_cfg(port, [good.port], srv=" maxconn 1"), port)
    time.sleep(0.2)
    good.stats.started.clear()
    busy, resp = _queued_then_half_closed(port, good)
    assert resp.startswith(b"HTTP/1.1 200 OK")
    assert busy == [200]
    assert "/queued" in good.stats.paths


def test_maxqueue_does_not_limit_the_backend_queue_of_a_round_robin(proxy, port, good):  # noqa: F811
    # without persistence every queued stream waits in the backend queue,
    # which a server's maxqueue does not bound (HAProxy 2.6 pendconn_add)
    proxy(_cfg(port, [good.port], srv=" maxconn 1 maxqueue 1"), port)
    out: list = []
    threads = [
        threading.Thread(target=lambda i=i: out.append(_get(port, f"/slow/0.3?{i}")))
        for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [s for s, _ in out] == [200, 200, 200]
    assert max(took for _, took in out) > 0.8  # served one after the other


def test_tcp_mode_retries_a_connect_timeout_on_another_server(proxy, port, blackhole):  # noqa: F811
    echo = Background(echo_tcp)
    try:
        conf = _cfg(port, [blackhole, echo.port], "    retries 3\n    option redispatch", "300ms")
        proxy(conf.replace("mode http", "mode tcp"), port)
        for i in range(4):
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"hi %d" % i)
                assert s.recv(100) == b"hi %d" % i
            assert time.monotonic() - t0 < 1.5
    finally:
        echo.close()


def test_tcp_mode_gives_up_after_the_retries(proxy, port):  # noqa: F811
    conf = _cfg(port, [free_port()], "    retries 2", "500ms")
    proxy(conf.replace("mode http", "mode tcp"), port)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"hi")
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
    assert 0.8 < time.monotonic() - t0 < 3.0  # two turn-arounds of 500ms
