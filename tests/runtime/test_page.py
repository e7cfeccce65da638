"""The statistics page (``stats enable|uri|auth|realm|refresh``) through the
real process, compared with Debian's haproxy serving the same configuration."""

from __future__ import annotations

import base64
import csv
import io
import os
import re
import shutil
import socket
import subprocess
import time
from html.parser import HTMLParser

import pytest

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
    stats admin if TRUE
listen stats2
    bind 127.0.0.1:{p2}
    stats auth a:b
    stats realm My\\ Realm
    stats hide-version
    stats show-legends
backend be
    server s1 127.0.0.1:{s1}
    server s2 127.0.0.1:{refused} check inter 200
    server s3 127.0.0.1:{s1} check disabled
    server s4 127.0.0.1:{s1} check inter 200
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
    refused = free_port()  # nothing listens there: its server is DOWN (L4CON)
    out = {}
    for name in ("haproxy", "py"):
        ports = {"p1": free_port(), "p2": free_port()}
        cfg = CFG.format(s1=s1, refused=refused, **ports)
        if name == "haproxy":
            launcher.haproxy(cfg, wait=[ports["p1"], ports["p2"]])
        else:
            launcher.start(cfg, wait=[ports["p1"], ports["p2"]])
        out[name] = ports
    for ports in out.values():  # the first checks done: s2 DOWN, s4 checked UP
        deadline = time.monotonic() + 10
        while True:
            body = _dechunk(_get(ports["p1"], "/st;csv").split(b"\r\n\r\n", 1)[1]).decode()
            rows = {r[1]: r for r in csv.reader(io.StringIO(body))}
            if rows["s2"][17] == "DOWN" and rows["s4"][17] == "UP":
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.05)
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


class _Rows(HTMLParser):
    """The table rows of a rendered page as a user reads them: each row's
    class and the text of its cells, without the hover tips."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._cell: list[str] | None = None
        self._tips = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self.rows.append((a.get("class") or "", []))
        elif tag == "td" and self.rows:
            self._cell = []
        elif tag == "div" and a.get("class") == "tips":
            self._tips += 1
        elif tag == "input" and a.get("type") == "checkbox" and self._cell is not None:
            self._cell.append(f"[box {a.get('value', '')}]")

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "div" and self._tips:
            self._tips -= 1

    def handle_data(self, data):
        if self._cell is not None and not self._tips:
            self._cell.append(data)


def _chromium(exe: str, profile, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--window-size=1600,900",
            *args,
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_html_page_in_chromium(launcher, http_servers, tmp_path):
    """Headless Chromium renders the page (``--dump-dom``: the document it
    built): the backend's rows show each server with its state as HAProxy
    words it (UP, DOWN with the L4CON check, MAINT, ``no check``), the row
    colours, the admin checkboxes; the screenshot is kept in
    ``$PYHAPROXY_ARTIFACTS`` (default: the test's temporary directory)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed")
    pair = _pair(launcher, http_servers)
    port = pair["py"]["p1"]
    url = f"http://127.0.0.1:{port}/st"
    dom = _chromium(exe, tmp_path / "chromium", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parser = _Rows()
    parser.feed(dom.stdout.decode("latin-1"))
    rows = {}
    for cls, cells in parser.rows:
        if len(cells) > 2:
            rows[(cells[1], cells[0])] = (cls, cells)
    # (name, admin cell) -> row class and the Server group's first cells
    s1 = rows[("s1", "[box s1]")]
    s2 = rows[("s2", "[box s2]")]
    s3 = rows[("s3", "[box s3]")]
    s4 = rows[("s4", "[box s4]")]
    backend = next(v for k, v in rows.items() if k[0] == "Backend" and v[0] == "backend")
    # the Server group (Status LastChk Wght Act Bck Chk Dwn Dwntme Thrtle)
    # follows the checkbox, the name and 21 counters
    status = 23
    assert s1[0] == "active_no_check" and s1[1][status] == "no check"
    assert s2[0] == "active_down" and re.fullmatch(r"\d+s DOWN", s2[1][status])
    assert re.fullmatch(r"L4CON in \d+ms", s2[1][status + 1])
    assert s2[1][status + 5 : status + 7] == ["1", "1"]  # Chk, Dwn
    assert s3[0] == "maintain" and re.fullmatch(r"\d+s MAINT", s3[1][status])
    assert s4[0] == "active_up" and re.fullmatch(r"\d+s UP", s4[1][status])
    assert re.fullmatch(r"L4OK in \d+ms", s4[1][status + 1])
    assert re.fullmatch(r"\d+s UP", backend[1][status])
    assert "Choose the action to perform on the checked servers" in dom.stdout.decode()
    out_dir = os.environ.get("PYHAPROXY_ARTIFACTS") or str(tmp_path)
    os.makedirs(out_dir, exist_ok=True)
    shot = os.path.join(out_dir, "stats-page.png")
    done = _chromium(exe, tmp_path / "chromium", f"--screenshot={shot}", url)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(shot, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
