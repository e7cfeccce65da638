"""Conditional ``use_backend`` (configuration.txt §4.2): per request in HTTP
mode, at accept on ``src`` in TCP mode; compared with Debian's haproxy."""

from __future__ import annotations

import socket

import pytest

from tests.dataplane.conftest import DEFAULTS
from tests.dataplane.rawhttp import read_response
from tests.dataplane.servers import free_port


def http_cfg(port: int, a: int, b: int) -> str:
    return f"""{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
    acl is_api path_beg /api
    acl host_b hdr(host) -i b.example
    acl local src 127.0.0.0/8 ::1
    use_backend b if is_api
    use_backend b if host_b || {{ path /x }}
    use_backend b if {{ path /notlocal }} !local
    use_backend b unless local
    use_backend b if {{ path /b }} local
    use_backend a if {{ path /a2 }}
    use_backend b
    use_backend a if {{ path /never }}
    default_backend a
backend a
    mode http
    server s1 127.0.0.1:{a}
backend b
    mode http
    server s1 127.0.0.1:{b}
"""


def default_cfg(port: int, a: int, b: int) -> str:
    return f"""{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
    use_backend b if {{ path_beg /api }} || {{ hdr(host) -i B.Example }}
    use_backend a unless {{ path_end .b }}
    default_backend b
backend a
    mode http
    server s1 127.0.0.1:{a}
backend b
    mode http
    server s1 127.0.0.1:{b}
"""


SEQUENCE = [
    ("/api/v1", "x", "b"),
    ("/apix", "x", "b"),
    ("/", "x", "b"),  # the unconditional rule
    ("/", "B.EXAMPLE", "b"),
    ("/x", "x", "b"),
    ("/x?y", "x", "b"),
    ("/notlocal", "x", "b"),  # third rule: the client is local -> next rules
    ("/b", "x", "b"),
    ("/a2", "x", "a"),
    ("/never", "x", "b"),  # the unconditional rule comes first
    ("/other", "x", "b"),
]

DEFAULT_SEQUENCE = [
    ("/api", "x", "b"),
    ("/", "b.example", "b"),
    ("/", "x", "a"),
    ("/f.b", "x", "b"),
    ("/f.c", "x", "a"),
]


def route_names(port: int, sequence) -> list[str]:
    """Send the requests on one keep-alive connection; the server names."""
    names = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for path, host, _ in sequence:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            resp = read_response(s)
            assert resp.startswith(b"HTTP/1.1 200"), resp
            names.append(resp.partition(b"\r\n\r\n")[2].split(b" ")[0].decode())
    return names


@pytest.mark.parametrize(("cfg", "seq"), [(http_cfg, SEQUENCE), (default_cfg, DEFAULT_SEQUENCE)])
def test_each_request_is_routed_on_its_own(launcher, http_servers, port, cfg, seq):
    a, b = http_servers
    launcher.start(cfg(port, a.port, b.port), wait=port)
    assert route_names(port, seq) == [want for _, _, want in seq]
    assert a.stats.requests + b.stats.requests == len(seq)


@pytest.mark.parametrize(("cfg", "seq"), [(http_cfg, SEQUENCE), (default_cfg, DEFAULT_SEQUENCE)])
def test_same_backends_as_haproxy(launcher, http_servers, cfg, seq):
    a, b = http_servers
    hp, pp = free_port(), free_port()
    launcher.haproxy(cfg(hp, a.port, b.port), wait=hp)
    launcher.start(cfg(pp, a.port, b.port), wait=pp)
    assert route_names(pp, seq) == route_names(hp, seq)


def tcp_cfg(port: int, a: int, b: int, cond: str) -> str:
    return f"""{DEFAULTS}
frontend fe
    mode tcp
    bind 127.0.0.1:{port}
    use_backend b {cond}
    default_backend a
backend a
    mode tcp
    server s1 127.0.0.1:{a}
backend b
    mode tcp
    server s1 127.0.0.1:{b}
"""


@pytest.mark.parametrize(
    ("cond", "want"),
    [
        ("if { src 127.0.0.0/8 }", "b"),
        ("if !{ src 127.0.0.0/8 }", "a"),
        ("unless { src 10.0.0.0/8 } || { src 192.0.2.1 }", "b"),
        ("if { src 10.0.0.0/8 }", "a"),
    ],
)
def test_tcp_routes_on_src_at_accept(launcher, http_servers, port, cond, want):
    a, b = http_servers
    launcher.start(tcp_cfg(port, a.port, b.port, cond), wait=port)
    assert route_names(port, [("/", "x", want)] * 2) == [want, want]


def test_tcp_condition_on_content_refuses_to_start(launcher, http_servers, port):
    a, b = http_servers
    proc = launcher.start(tcp_cfg(port, a.port, b.port, "if { path_beg /api }"))
    assert proc.wait(10) != 0
    log = proc.log_path.read_text()  # type: ignore[attr-defined]
    assert "tcp-request content" in log and "not implemented" in log
