"""Real clients of HAProxy's runtime API against pyhaproxy's stats socket:
``socat``, the ``haproxyadmin`` library (PyPI) and Debian's
``prometheus-haproxy-exporter`` (which parses ``show stat``)."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request

import pytest

from tests.dataplane.servers import free_port
from tests.runtime.client import cli, wait_socket

CFG = """
global
    stats socket {d}/admin.sock level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{s1} weight 10
    server s2 127.0.0.1:{s2}
    server s3 127.0.0.1:{s2} disabled
"""


@pytest.fixture
def proxy(launcher, tmp_path, http_servers):
    s1, s2 = (s.port for s in http_servers)
    port = free_port()
    launcher.start(CFG.format(d=tmp_path, port=port, s1=s1, s2=s2), wait=port)
    sock = str(tmp_path / "admin.sock")
    wait_socket(sock)
    return sock


def test_socat(proxy):
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed")

    def socat(text: str) -> str:
        return subprocess.run(
            ["socat", "-", f"UNIX-CONNECT:{proxy}"],
            input=text,
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout

    assert socat("get weight be/s1\n") == "10 (initial 10)\n\n"
    assert socat("set weight be/s1 3; get weight be/s1\n") == "\n3 (initial 10)\n\n"
    assert socat("show info\n").startswith("Name: HAProxy\n")
    assert socat("show servers state be\n").startswith("1\n# be_id be_name srv_id")


def test_haproxyadmin(proxy):
    haproxy = pytest.importorskip("haproxyadmin.haproxy")
    hap = haproxy.HAProxy(socket_file=proxy)
    servers = {(s.backendname, s.name): s for s in hap.servers()}
    assert set(servers) == {("be", "s1"), ("be", "s2"), ("be", "s3")}
    assert servers[("be", "s3")].status == "MAINT"
    assert int(servers[("be", "s1")].weight) == 10
    assert servers[("be", "s1")].setweight(5)
    assert int(hap.server("s1", backend="be")[0].weight) == 5
    assert cli(proxy, "get weight be/s1") == "5 (initial 10)\n\n"
    assert [b.name for b in hap.backends()] == ["be"]
    assert [f.name for f in hap.frontends()] == ["fe"]


def test_prometheus_haproxy_exporter(proxy):
    exe = shutil.which("prometheus-haproxy-exporter")
    if exe is None:
        pytest.skip("Debian's prometheus-haproxy-exporter is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [exe, f"--haproxy.scrape-uri=unix:{proxy}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        text = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "haproxy_up" not in text:
            time.sleep(0.2)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                continue
        lines = set(text.splitlines())
        assert "haproxy_up 1" in lines
        assert 'haproxy_server_up{backend="be",server="s1"} 1' in lines
        assert 'haproxy_server_up{backend="be",server="s3"} 0' in lines
        assert 'haproxy_backend_up{backend="be"} 1' in lines
        assert cli(proxy, "disable server be/s1") == "\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            lines = set(r.read().decode().splitlines())
        assert 'haproxy_server_up{backend="be",server="s1"} 0' in lines
    finally:
        proc.terminate()
        proc.wait(10)
