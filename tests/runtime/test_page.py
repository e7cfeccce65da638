"""The statistics page (``stats enable|uri|auth|realm|refresh``) through the
real process, compared with Debian's haproxy serving the same configuration."""

from __future__ import annotations

import base64
import csv
import io
import socket
import time

from tests.dataplane.servers import free_port

CFG = """
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen stats
    bind 127.0.0.1:{p1}
    stats enable
    stats uri /st
    stats refresh 10s
listen stats2
    bind 127.0.0.1:{p2}
    stats auth a:b
    stats realm My\\ Realm
    stats hide-version
    stats show-legends
backend be
    server s1 127.0.0.1:{s1}
"""


def _get(port: int, target: str, headers: str = "") -> bytes:
    """One request with ``Connection: close``; the raw answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            f"GET {target} HTTP/1.1\r\nhost: x\r\n{headers}connection: close\r\n\r\n".encode()
        )
        out = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            data = s.recv(65536)
            if not data:
                break
            out += data
    return out


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2 :]
    return out


def _pair(launcher, http_servers):
    s1 = http_servers[0].port
    out = {}
    for name in ("haproxy", "py"):
        ports = {"p1": free_port(), "p2": free_port()}
        cfg = CFG.format(s1=s1, **ports)
        if name == "haproxy":
            launcher.haproxy(cfg, wait=[ports["p1"], ports["p2"]])
        else:
            launcher.start(cfg, wait=[ports["p1"], ports["p2"]])
        out[name] = ports
    return out


def test_auth_and_heads_as_haproxy(launcher, http_servers):
    pair = _pair(launcher, http_servers)
    answers = {}
    for name, ports in pair.items():
        good = "authorization: Basic " + base64.b64encode(b"a:b").decode() + "\r\n"
        bad = "authorization: Basic " + base64.b64encode(b"a:c").decode() + "\r\n"
        answers[name] = [
            _get(ports["p2"], "/haproxy?stats"),
            _get(ports["p2"], "/haproxy?stats;csv", bad),
            _get(ports["p2"], "/haproxy?stats;csv", good).split(b"\r\n\r\n")[0],
            _get(ports["p1"], "/st;csv").split(b"\r\n\r\n")[0],
            _get(ports["p1"], "/st;csv;norefresh").split(b"\r\n\r\n")[0],
            _get(ports["p1"], "/st").split(b"\r\n\r\n")[0],
            _get(ports["p1"], "/other").split(b"\r\n")[0],
        ]
    assert answers["haproxy"] == answers["py"]


def test_csv_rows_as_haproxy(launcher, http_servers):
    pair = _pair(launcher, http_servers)
    tables = {}
    for name, ports in pair.items():
        body = _dechunk(_get(ports["p1"], "/st;csv").split(b"\r\n\r\n", 1)[1]).decode()
        assert body.startswith("# pxname,svname,") and body.endswith(",\n")
        rows = list(csv.reader(io.StringIO(body[2:])))
        header = rows[0]
        tables[name] = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    stable = ("pxname", "svname", "status", "weight", "act", "bck", "iid", "sid", "type", "addr")
    for a, b in zip(tables["haproxy"], tables["py"], strict=True):
        assert {k: a[k] for k in stable} == {k: b[k] for k in stable}


def test_html_page_renders(launcher, http_servers):
    pair = _pair(launcher, http_servers)
    answer = _get(pair["py"]["p1"], "/st")
    head, body = answer.split(b"\r\n\r\n", 1)
    page = _dechunk(body).decode("latin-1")
    assert "<title>Statistics Report for HAProxy</title>" in page
    for name in ("stats", "stats2", "be", "s1"):
        assert f">{name}<" in page
    assert "</html>" in page


def test_html_page_screenshot_in_chromium(launcher, http_servers, tmp_path):
    """Headless Chromium renders the page; the screenshot is kept in
    ``$PYHAPROXY_ARTIFACTS`` (default: the test's temporary directory)."""
    import os
    import shutil
    import subprocess

    import pytest

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed")
    pair = _pair(launcher, http_servers)
    out_dir = os.environ.get("PYHAPROXY_ARTIFACTS") or str(tmp_path)
    os.makedirs(out_dir, exist_ok=True)
    shot = os.path.join(out_dir, "stats-page.png")
    subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1280,800",
            f"--screenshot={shot}",
            f"http://127.0.0.1:{pair['py']['p1']}/st",
        ],
        capture_output=True,
        timeout=50,
        check=False,
    )
    with open(shot, "rb") as fh:
        data = fh.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000
