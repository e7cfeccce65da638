"""``http-request use-service prometheus-exporter`` compared with Debian's
haproxy (same metric names, order, labels and stable values), and scraped by
a real Prometheus server when Debian's ``prometheus`` is installed."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time
import urllib.request

import pytest

from tests.dataplane.servers import free_port

CFG = """
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend prom
    bind 127.0.0.1:{port}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    default_backend be
frontend tfe
    mode tcp
    bind 127.0.0.1:{tport}
    default_backend tbe
backend be
    server s1 127.0.0.1:{s1}
    server s2 127.0.0.1:{s2} disabled
    server s3 127.0.0.1:{s2} backup
backend tbe
    mode tcp
    server t1 127.0.0.1:{s1}
"""

# values that depend on time, on the environment or on bytes written
VARYING = (
    "_rate",
    "_time_",
    "time_seconds",
    "last_change",
    "last_session",
    "bytes_",
    "max_connections",
    "limit_sessions",
    "max_fds",
    "max_sockets",
    "nbthread",
    "tasks",
    "run_queue",  # haproxy's active tasks at the instant: 0, sometimes 1
    "jobs",
    "pool_",
    "start_time",
    "uptime",
    "build_info",
    "need_connections",
    "idle_connections",
    "connections_total",
    "requests_total",
    "current_connections",
    "current_sessions",
    "max_sessions",
    "sessions_total",
    "intercepted",
    "http_responses_total",
    "listeners",
    "reuses",
    "connection_attempts",
)


def _metrics(port: int) -> tuple[list[str], dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("content-type") == "text/plain; version=0.0.4"
    text = resp.read().decode()
    conn.close()
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = value
    return types, samples


def _start(launcher, http_servers, exe: str) -> dict[str, int]:
    s1, s2 = (s.port for s in http_servers)
    ports = {"port": free_port(), "tport": free_port()}
    cfg = CFG.format(s1=s1, s2=s2, **ports)
    if exe == "haproxy":
        launcher.haproxy(cfg, wait=ports["port"])
    else:
        launcher.start(cfg, wait=ports["port"])
    conn = http.client.HTTPConnection("127.0.0.1", ports["port"], timeout=5)
    conn.request("GET", "/")
    conn.getresponse().read()
    conn.close()
    return ports


def test_metrics_as_haproxy(launcher, http_servers):
    got = {}
    for exe in ("haproxy", "py"):
        ports = _start(launcher, http_servers, exe)
        got[exe] = _metrics(ports["port"])
    (t1, s1), (t2, s2) = got["haproxy"], got["py"]
    assert t1 == t2  # names, order, types
    assert [k for k in s1 if "build_info" not in k] == [k for k in s2 if "build_info" not in k]
    for key, value in s1.items():
        if key in s2 and not any(v in key for v in VARYING):
            assert s2[key] == value, key
    assert s2['haproxy_server_status{proxy="be",server="s2",state="MAINT"}'] == "1"
    assert s2['haproxy_backend_agg_server_status{proxy="be",state="UP"}'] == "2"


def test_real_prometheus_scrapes(launcher, http_servers, tmp_path):
    exe = shutil.which("prometheus")
    if exe is None:
        pytest.skip("Debian's prometheus is not installed")
    ports = _start(launcher, http_servers, "py")
    web = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: pyhaproxy\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{ports['port']}']\n"
    )
    proc = subprocess.Popen(
        [
            exe,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{web}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        query = "haproxy_server_status{proxy=%22be%22,state=%22MAINT%22}"
        deadline = time.monotonic() + 40
        result: list = []
        while time.monotonic() < deadline and not result:
            time.sleep(1)
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{web}/api/v1/query?query={query}", timeout=5
                ) as resp:
                    result = json.load(resp)["data"]["result"]
            except OSError:
                continue
        assert result, "prometheus never scraped the exporter"
        by_server = {r["metric"]["server"]: r["value"][1] for r in result}
        assert by_server == {"s1": "0", "s2": "1", "s3": "0"}
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/targets", timeout=5) as r:
            targets = json.load(r)["data"]["activeTargets"]
        assert targets[0]["health"] == "up"
    finally:
        proc.terminate()
        proc.wait(10)
