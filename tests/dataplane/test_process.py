"""Process-level behaviour: signals, the demo, refusals, bind errors."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.dataplane.conftest import DEFAULTS, ROOT, wait_port
from tests.dataplane.servers import free_port
from tests.helpers import run_pyhaproxy


def simple_cfg(port: int, server_port: int) -> str:
    return f"""{DEFAULTS}
listen li
    mode http
    bind 127.0.0.1:{port}
    server s1 127.0.0.1:{server_port}
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_hard_stop_signals_even_when_ignored(launcher, port, http_servers, signum):
    proc = launcher.start(simple_cfg(port, http_servers[0].port), wait=port, ignore_signals=True)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().status == 200
    proc.send_signal(signum)
    assert proc.wait(10) == -signum  # dies by the signal, as haproxy standalone


def test_sigusr1_lets_request_finish(launcher, port, http_servers):
    proc = launcher.start(simple_cfg(port, http_servers[0].port), wait=port)
    result = {}

    def slow():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/slow/1.0")
        resp = conn.getresponse()
        result["status"], result["body"] = resp.status, resp.read()

    t = threading.Thread(target=slow)
    t.start()
    assert http_servers[0].stats.started.wait(5)
    proc.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    with pytest.raises(OSError):  # no longer accepting
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    t.join(10)
    assert result == {"status": 200, "body": b"slow done"}
    assert proc.wait(10) == 0


def test_demo_alternates():
    ports = [8080, 8081, 8082]
    for p in ports:
        try:
            socket.create_connection(("127.0.0.1", p), timeout=0.2).close()
            pytest.skip(f"port {p} is busy")
        except OSError:
            pass
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyhaproxy", "-f", "conf/demo.cfg", "-db"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for p in ports:
            wait_port(p, proc)
        bodies = [
            subprocess.run(
                ["curl", "-s", "http://localhost:8080/"], capture_output=True, timeout=5
            ).stdout
            for _ in range(4)
        ]
        assert bodies == [b"hello from s1\n", b"hello from s2\n"] * 2
    finally:
        proc.terminate()
        proc.wait(5)


def test_bind_error_message(launcher, http_servers):
    busy = socket.create_server(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    try:
        cfg = f"""{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
    default_backend be
backend be
    mode http
    server s1 127.0.0.1:{http_servers[0].port}
"""
        path = launcher.tmp / "busy.cfg"
        path.write_text(cfg)
        out = run_pyhaproxy("-f", str(path), "-db", timeout=10)
    finally:
        busy.close()
    assert out.returncode == 1
    # HAProxy 2.6's words (checked against Debian's haproxy)
    line = cfg.splitlines().index(f"    bind 127.0.0.1:{port}") + 1
    assert (
        f"Binding [{path}:{line}] for frontend fe: cannot bind socket (Address already in use) "
        f"for [127.0.0.1:{port}]" in out.stderr
    )
    assert "Some protocols failed to start their listeners! Exiting." in out.stderr


@pytest.mark.parametrize(
    "line,what",
    [
        ("    use_backend be if WAIT_END", "'predefined ACL 'WAIT_END' in a condition'"),
        ("    http-request set-header X y", "'http-request set-header'"),
        ("    timeout tarpit 5s", "'timeout tarpit'"),
        ("    bind 127.0.0.1:{p2} ssl crt /nonexistent", None),
        ("    server s9 127.0.0.1:9 send-proxy", "'server send-proxy'"),
    ],
)
def test_unimplemented_parts_refuse_to_start(launcher, line, what):
    p1, p2 = free_port(), free_port()
    cfg = f"""{DEFAULTS}
listen li
    mode http
    bind 127.0.0.1:{p1}
{line.format(p2=p2)}
backend be
    mode http
"""
    path = launcher.tmp / "refused.cfg"
    path.write_text(cfg)
    out = run_pyhaproxy("-f", str(path), "-db", timeout=10)
    assert out.returncode == 1
    if what:
        assert f"{what} is not implemented yet by pyhaproxy" in out.stderr


def test_sigterm_during_soft_stop_stops_at_once(launcher, port, http_servers):
    proc = launcher.start(simple_cfg(port, http_servers[0].port), wait=port)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("GET", "/slow/5")
    conn.endheaders()
    assert http_servers[0].stats.started.wait(5)
    proc.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    assert proc.poll() is None  # waiting for the slow request
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(3) == -signal.SIGTERM
    conn.close()
