"""Operators' parsers read pyhaproxy's lines: ``haproxy_log_analysis``
(PyPI ``haproxy_log_analysis``) and Logstash's grok patterns HAPROXYHTTP and
HAPROXYTCP (through ``pygrok``); syslog on a unix datagram socket standing in
for /dev/log."""

from __future__ import annotations

import socket

import pytest

from tests.dataplane.servers import Background, echo_tcp, free_port, http_app
from tests.log.test_compat import get

haproxy_line = pytest.importorskip("haproxy.line")
pygrok = pytest.importorskip("pygrok")


@pytest.fixture
def servers():
    made = [Background(http_app("a")), Background(echo_tcp)]
    yield made
    for s in made:
        s.close()


def test_parsers_read_our_lines(launcher, receivers, servers, tmp_path):
    web, echo = servers
    rx = receivers(str(tmp_path / "log.sock"))
    hport, tport = free_port(), free_port()
    launcher.start(
        f"""
global
    log {rx.address} local0
    log-send-hostname lb1
defaults
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend web
    mode http
    option httplog
    bind 127.0.0.1:{hport}
    default_backend be
backend be
    mode http
    server s1 127.0.0.1:{web.port}
listen tl
    mode tcp
    option tcplog
    bind 127.0.0.1:{tport}
    server s1 127.0.0.1:{echo.port}
""",
        wait=[hport, tport],
    )
    rx.collect(0)
    rx.lines.clear()
    get(hport, "/some/path?q=1")
    with socket.create_connection(("127.0.0.1", tport)) as s:
        s.sendall(b"abc")
        s.recv(10)
    lines = rx.collect(2)
    http = next(x for x in lines if "web be/s1" in x)
    tcp = next(x for x in lines if "tl tl/s1" in x)
    # syslog priority stripped, as a syslog daemon writes the file
    http_text, tcp_text = http.split(">", 1)[1].rstrip("\n"), tcp.split(">", 1)[1].rstrip("\n")

    parsed = haproxy_line.parse_line(http_text)
    assert parsed.is_valid
    assert (parsed.server_name, parsed.status_code, parsed.http_request_path) == (
        "s1",
        "200",
        "/some/path?q=1",
    )
    assert parsed.frontend_name == "web" and parsed.backend_name == "be"

    grok = pygrok.Grok("%{HAPROXYHTTP}").match(http_text)
    assert grok is not None
    assert grok["http_status_code"] == "200" and grok["http_request"] == "/some/path?q=1"
    assert grok["termination_state"] == "----" and grok["syslog_server"] == "lb1"
    grok = pygrok.Grok("%{HAPROXYTCP}").match(tcp_text)
    assert grok is not None
    assert grok["frontend_name"] == "tl" and grok["server_name"] == "s1"
