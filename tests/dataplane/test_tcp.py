"""`mode tcp` through the real process: echo, half-close, big transfers."""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import pytest

from tests.dataplane.conftest import DEFAULTS
from tests.dataplane.servers import Background, echo_tcp, free_port
from tests.dataplane.wsutil import proxy  # noqa: F401


@pytest.fixture
def echo():
    srv = Background(echo_tcp)
    yield srv
    srv.close()


def tcp_cfg(port: int, server_port: int) -> str:
    return f"""{DEFAULTS}
frontend fe
    mode tcp
    bind 127.0.0.1:{port}
    default_backend be

backend be
    mode tcp
    server s1 127.0.0.1:{server_port}
"""


def test_tcp_echo_and_half_close(launcher, port, echo):
    launcher.start(tcp_cfg(port, echo.port), wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"hello")
        assert s.recv(5) == b"hello"
        s.sendall(b" world")
        s.shutdown(socket.SHUT_WR)  # half-close: the echo answers BYE then closes
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data == b" worldBYE"


def test_tcp_10mb_both_ways(launcher, port, echo):
    launcher.start(tcp_cfg(port, echo.port), wait=port)
    payload = os.urandom(10 * 1024 * 1024)
    got = hashlib.sha256()
    size = 0
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:

        def send():
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send)
        t.start()
        while chunk := s.recv(1 << 20):
            got.update(chunk)
            size += len(chunk)
        t.join()
    # the echo, then BYE
    assert size == len(payload) + 3
    assert got.hexdigest() == hashlib.sha256(payload + b"BYE").hexdigest()


def test_tcp_no_server_closes(launcher, port):
    cfg = f"""{DEFAULTS}
listen li
    mode tcp
    bind 127.0.0.1:{port}
    server s1 127.0.0.1:9 disabled
"""
    launcher.start(cfg, wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        assert s.recv(10) == b""


def test_dispatch_takes_every_connection_of_a_backend_not_in_balance_mode(proxy, port):  # noqa: F811
    """``dispatch`` wins over the ``server`` lines (the server here refuses
    connections) when no ``balance`` is set, as in haproxy 2.6."""
    srv = Background(echo_tcp)
    dead = free_port()
    try:
        conf = f"""{DEFAULTS}
listen li
    mode tcp
    bind 127.0.0.1:{port}
    dispatch 127.0.0.1:{srv.port}
    server s1 127.0.0.1:{dead}
"""
        proxy(conf, port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"via dispatch")
            assert s.recv(100) == b"via dispatch"
    finally:
        srv.close()


@pytest.mark.parametrize("form", ["no-port", "offset"])
def test_server_port_follows_the_port_the_client_connected_to(proxy, port, form):  # noqa: F811
    """``server s 127.0.0.2`` connects to the port the client connected to;
    ``127.0.0.1:+N`` / ``:-N`` to that port plus N (configuration.txt §5.2)."""
    if form == "no-port":
        srv = Background(echo_tcp, port=port, host="127.0.0.2")
        address = "127.0.0.2"
    else:
        srv = Background(echo_tcp)
        delta = srv.port - port
        address = f"127.0.0.1:{'+' if delta >= 0 else '-'}{abs(delta)}"
    try:
        conf = f"""{DEFAULTS}
listen li
    mode tcp
    bind 127.0.0.1:{port}
    server s1 {address}
"""
        proxy(conf, port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"mapped")
            assert s.recv(100) == b"mapped"
    finally:
        srv.close()
