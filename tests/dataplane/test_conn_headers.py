"""Connection modes (option http-keep-alive / http-server-close / httpclose)
and option forwardfor / originalto: what the server receives and how many
server connections are opened, compared with Debian's haproxy."""

from __future__ import annotations

import socket
import time

import pytest

from tests.dataplane.conftest import DEFAULTS
from tests.dataplane.rawhttp import read_response
from tests.dataplane.servers import Background, free_port


async def capture(reader, writer, stats) -> None:
    """Records each request head (in ``stats.paths``); answers 200 "ok",
    closing when the request asks to (HTTP/1.1 close, HTTP/1.0 default)."""
    while True:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = await reader.readline()
            if not line:
                return
            head += line
        stats.requests += 1
        stats.paths.append(head.decode("latin-1"))
        lines = head.decode("latin-1").split("\r\n")
        tokens = {
            t.strip().lower()
            for ln in lines[1:]
            if ln.lower().startswith("connection:")
            for t in ln.split(":", 1)[1].split(",")
        }
        v10 = lines[0].endswith("1.0")
        close = "close" in tokens or (v10 and "keep-alive" not in tokens)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        if close:
            return


@pytest.fixture
def capture_server():
    srv = Background(capture)
    yield srv
    srv.close()


def cfg(port: int, server: int, fe_opts: str = "", be_opts: str = "") -> str:
    return f"""{DEFAULTS}
frontend fe
    mode http
    bind 127.0.0.1:{port}
{fe_opts}
    default_backend be
backend be
    mode http
    http-reuse always
{be_opts}
    server s1 127.0.0.1:{server}
"""


def conversation(port: int, requests: list[bytes]) -> tuple[list[bytes], bool]:
    """The responses to ``requests`` sent one by one on one connection, and
    whether the proxy closed the connection afterwards."""
    resps = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for req in requests:
            s.sendall(req)
            resps.append(read_response(s))
            if not resps[-1]:
                return resps, True
        s.settimeout(0.3)
        try:
            closed = s.recv(1) == b""
        except TimeoutError:
            closed = False
    return resps, closed


def get(path: str, extra: str = "", version: str = "1.1") -> bytes:
    return f"GET {path} HTTP/{version}\r\nHost: x\r\n{extra}\r\n".encode()


def conn_lines(head: str) -> list[str]:
    """The Connection header lines of a head, names lower-cased (HAProxy
    writes every name in lower case, pyhaproxy forwards the client's)."""
    out = []
    for ln in head.split("\r\n")[1:]:
        name, sep, value = ln.partition(":")
        if sep and name.lower() in ("connection", "x-forwarded-for", "x-original-to", "x-real"):
            out.append(f"{name.lower()}:{value.strip()}")
    return out


def test_keep_alive_client_close_keeps_the_server_connection(launcher, capture_server, port):
    launcher.start(cfg(port, capture_server.port), wait=port)
    resps, closed = conversation(
        port, [get("/1"), get("/2", "Connection: keep-alive, X-Foo\r\nX-Foo: 1\r\n")]
    )
    assert not closed and all(r.endswith(b"ok") for r in resps)
    resps, closed = conversation(port, [get("/3", "Connection: close\r\n")])
    assert closed and b"\r\nconnection: close\r\n" in resps[0]
    resps, closed = conversation(port, [get("/4"), get("/5", version="1.0")])
    assert closed
    time.sleep(0.1)
    # one server connection for all: the client's close did not reach it
    assert capture_server.stats.connections == 1
    heads = capture_server.stats.paths
    assert [conn_lines(h) for h in heads] == [
        [],
        ["connection:X-Foo"],
        [],
        [],
        ["connection:keep-alive"],
    ]


def test_http_server_close_closes_the_server_side_only(launcher, capture_server, port):
    launcher.start(cfg(port, capture_server.port, "    option http-server-close"), wait=port)
    resps, closed = conversation(port, [get("/1"), get("/2"), get("/3")])
    assert not closed and len(resps) == 3
    assert all(b"connection" not in r.lower() for r in resps)
    time.sleep(0.1)
    assert capture_server.stats.connections == 3
    assert all(conn_lines(h) == ["connection:close"] for h in capture_server.stats.paths)


def test_httpclose_closes_both_sides(launcher, capture_server, port):
    launcher.start(cfg(port, capture_server.port, "    option httpclose"), wait=port)
    resps, closed = conversation(port, [get("/1")])
    assert closed and b"\r\nconnection: close\r\n" in resps[0]
    resps, closed = conversation(port, [get("/2", version="1.0")])
    assert closed
    time.sleep(0.1)
    assert capture_server.stats.connections == 2
    assert [conn_lines(h) for h in capture_server.stats.paths] == [["connection:close"], []]


def test_backend_httpclose_closes_the_server_side_only(launcher, capture_server, port):
    """As HAProxy's H1 mux: the client side follows the frontend's mode."""
    launcher.start(cfg(port, capture_server.port, "", "    option httpclose"), wait=port)
    resps, closed = conversation(port, [get("/1"), get("/2")])
    assert not closed and len(resps) == 2
    time.sleep(0.1)
    assert capture_server.stats.connections == 2


def test_backend_server_close_wins_over_frontend_keep_alive(launcher, capture_server, port):
    c = cfg(port, capture_server.port, "    option http-keep-alive", "    option http-server-close")
    launcher.start(c, wait=port)
    resps, closed = conversation(port, [get("/1"), get("/2")])
    assert not closed
    time.sleep(0.1)
    assert capture_server.stats.connections == 2


SEQUENCE = [
    get("/1"),
    get("/2", "Connection: keep-alive, X-Foo\r\nX-Foo: 1\r\n"),
    get("/3", "X-Forwarded-For: 1.1.1.1\r\nX-Real: 9.9.9.9\r\n"),
    get("/4", "Connection: close\r\n"),
]
SEQUENCE_10 = [get("/a", "Connection: keep-alive\r\n", "1.0"), get("/b", version="1.0")]

OPTIONS = {
    "keep-alive": ("", ""),
    "server-close": ("    option http-server-close", ""),
    "httpclose": ("", "    option httpclose"),
    "forwardfor": ("    option forwardfor\n    option originalto", ""),
    "forwardfor-except": (
        "    option forwardfor except 127.0.0.0/8\n    option originalto except 10.0.0.0/8",
        "",
    ),
    "forwardfor-header": ("    option forwardfor header X-Real if-none", ""),
    "forwardfor-both": (
        "    option forwardfor if-none",
        "    option forwardfor header X-Real\n    option originalto header X-Real",
    ),
}


def run_sequences(port: int) -> list:
    out = []
    for seq in (SEQUENCE, SEQUENCE_10):
        resps, closed = conversation(port, seq)
        # response Connection headers, as the client sees them
        out.append(([conn_lines(r.decode("latin-1")) for r in resps], closed))
    return out


@pytest.mark.parametrize("name", list(OPTIONS))
def test_server_sees_what_haproxy_sends(launcher, name):
    fe_opts, be_opts = OPTIONS[name]
    results = []
    for start in (launcher.haproxy, launcher.start):
        srv = Background(capture)
        try:
            port = free_port()
            start(cfg(port, srv.port, fe_opts, be_opts), wait=port)
            seen = run_sequences(port)
            time.sleep(0.1)
            results.append((seen, [conn_lines(h) for h in srv.stats.paths]))
        finally:
            srv.close()
    assert results[1] == results[0]
