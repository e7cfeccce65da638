"""http-request deny/redirect/return with ACL conditions, and monitor-uri,
through the real process, compared byte for byte with Debian's haproxy."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.dataplane.conftest import DEFAULTS, HAPROXY, ROOT
from tests.dataplane.rawhttp import exchange
from tests.dataplane.servers import free_port


def rules_cfg(port: int, server_port: int) -> str:
    return f"""{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
    monitor-uri /health
    acl api path_beg /api
    acl api path_end .json
    acl blocked src 192.0.2.0/24 2001:db8::/32
    http-request deny if blocked
    http-request deny if {{ path /deny }} || {{ hdr(x-deny) -m found }}
    http-request deny deny_status 429 if api {{ url_param(slow) 1 }}
    http-request redirect location /new if {{ path /loc }}
    http-request redirect location /new code 301 if {{ path /loc301 }}
    http-request redirect prefix /pfx if {{ path_beg /pre }}
    http-request redirect scheme https code 308 if {{ path /sch }} METH_GET
    http-request return status 201 content-type text/plain string hi unless !{{ path /ret }}
    default_backend be
backend be
    mode http
    server s1 127.0.0.1:{server_port}
"""


REQUESTS = [
    b"GET /deny HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /deny HTTP/1.0\r\n\r\n",
    b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Deny: 1\r\n\r\n",
    b"GET /api/x?slow=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /y.json?slow=1&z=2 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /loc HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /loc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /loc301 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /pre/a?b=c HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /sch HTTP/1.1\r\nHost: ex.com\r\n\r\n",
    b"GET /ret HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health HTTP/1.0\r\n\r\n",
]


@pytest.fixture
def pair(launcher, http_servers):
    hp, pp = free_port(), free_port()
    srv = http_servers[0].port
    launcher.haproxy(rules_cfg(hp, srv), wait=hp)
    launcher.start(rules_cfg(pp, srv), wait=pp)
    return hp, pp


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: r.split(b"\r\n")[0].decode())
def test_local_answers_match_haproxy(pair, request_):
    hp, pp = pair
    assert exchange(pp, request_) == exchange(hp, request_)


def test_unmatched_requests_reach_the_server(launcher, http_servers, port):
    launcher.start(rules_cfg(port, http_servers[0].port), wait=port)
    for path in (b"/api/x", b"/schx", b"/x?slow=1", b"/retry"):
        resp, _ = exchange(port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert resp.startswith(b"HTTP/1.1 200"), resp
    resp, _ = exchange(port, b"POST /sch HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
    assert resp.startswith(b"HTTP/1.1 200"), resp
    assert http_servers[0].stats.requests == 5


def test_rules_on_a_keep_alive_connection(launcher, http_servers, port):
    """First terminal rule wins per request; the connection stays open."""
    import socket

    from tests.dataplane.rawhttp import read_response

    launcher.start(rules_cfg(port, http_servers[0].port), wait=port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for path, status in ((b"/deny", b"403"), (b"/ok", b"200"), (b"/loc", b"302")) * 2:
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s).split(b" ")[1] == status


def _check(cfg_path) -> tuple[int, list[str]]:
    out = subprocess.run(
        [sys.executable, "-m", "pyhaproxy", "-c", "-f", str(cfg_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return out.returncode, _alerts(out.stdout + out.stderr)


def _alerts(text: str) -> list[str]:
    return [re.sub(r"\(\d+\)", "(PID)", ln) for ln in text.splitlines() if "parsing [" in ln]


BAD = """
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:0
    acl a1 foo_bar /x
    acl a3 src 1.2.3.400
    acl a4 path -m zzz /x
    acl a8 src 10.0.0.0/33
    use_backend b if { path_beg /x } nope
    use_backend b if { path /a
    use_backend b if { hdr_zz(host) /a }
    http-request deny if { nosuch /x }
    default_backend b
backend b
    server s 127.0.0.1:9
"""


def test_config_alerts_match_haproxy(tmp_path):
    import os

    if not os.path.exists(HAPROXY):
        pytest.skip("Debian's haproxy is not installed")
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(BAD)
    ref = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    status, alerts = _check(cfg)
    assert status == ref.returncode == 1
    assert alerts == _alerts(ref.stdout + ref.stderr)


@pytest.mark.parametrize("path", [b"/health", b"/deny", b"/loc"])
def test_head_answers_match_haproxy(pair, path):
    import socket

    from tests.dataplane.rawhttp import read_response

    got = []
    for p in pair:
        with socket.create_connection(("127.0.0.1", p), timeout=5) as s:
            s.sendall(b"HEAD " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            got.append(read_response(s, head_req=True))
    assert got[0] == got[1]
    assert b"content-length: " in got[0] and got[0].endswith(b"\r\n\r\n")
