"""A stopped or flooded syslog target never blocks the proxy: messages that
cannot be sent at once are dropped, counted, and the count is reported."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from tests.dataplane.conftest import read_log
from tests.dataplane.servers import Background, free_port, http_app


@pytest.fixture
def web():
    srv = Background(http_app("a"))
    yield srv
    srv.close()


def _cfg(port: int, log: str, web_port: int) -> str:
    return f"""
global
    log {log} local0
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{web_port}
"""


def _keepalive_requests(port: int, n: int) -> int:
    ok = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        for _ in range(n):
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            status = f.readline()
            length = 0
            while (line := f.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)
            ok += status.startswith(b"HTTP/1.1 200")
    return ok


@pytest.mark.parametrize("receiver", ["flooded", "stopped"])
def test_target_never_blocks(launcher, web, tmp_path, receiver):
    path = str(tmp_path / "log.sock")
    rx = None
    if receiver == "flooded":  # bound, never read: its buffer fills up
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        rx.bind(path)
    port = free_port()
    proc = launcher.start(_cfg(port, path, web.port), wait=port)
    start = time.monotonic()
    assert _keepalive_requests(port, 500) == 500
    assert time.monotonic() - start < 30  # generous: a shared, slow machine
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    log = read_log(proc)
    assert "log messages were dropped" in log
    dropped = int(log.split(" log messages were dropped")[0].rsplit(" ", 1)[1])
    assert 0 < dropped <= 510  # traffic logs, and warnings at exit
    if rx is not None:
        rx.close()


def test_runtime_messages_reach_syslog(launcher, receivers, web):
    """Warnings and alerts of the running process go to the global log
    targets too, at HAProxy's levels (here: warning, local0 → <132>)."""
    rx = receivers()
    port = free_port()
    proc = launcher.start(_cfg(port, rx.address, web.port), wait=port)
    proc.send_signal(signal.SIGUSR1)
    proc.wait(10)
    lines = rx.collect(1)
    assert any(x.startswith("<132>") and f"Proxy stopping (pid {proc.pid})." in x for x in lines)
