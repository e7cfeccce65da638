"""Default error pages byte for byte, and `errorfile <code> <file>`."""

from __future__ import annotations

import pytest

from pyhaproxy.dataplane.errors import ERROR_PAGES, render_errorfile
from tests.dataplane.conftest import DEFAULTS
from tests.dataplane.rawhttp import exchange
from tests.dataplane.servers import free_port

# captured from Debian's haproxy 2.6 (http-request deny deny_status N)
CAPTURED = {
    (405, False): b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 146\r\n"
    b"cache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>405 Method "
    b"Not Allowed</h1>\nA request was made of a resource using a request method not supported "
    b"by that resource\n</body></html>\n",
    (501, True): b"HTTP/1.1 501 Not Implemented\r\ncontent-length: 136\r\n"
    b"cache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n"
    b"<html><body><h1>501 Not Implemented</h1>\n.The server does not support the functionality "
    b"required to fulfill the request.\n</body></html>\n",
    (400, False): b"HTTP/1.1 400 Bad request\r\ncontent-length: 90\r\ncache-control: no-cache\r\n"
    b"content-type: text/html\r\nconnection: close\r\n\r\n<html><body><h1>400 Bad request</h1>"
    b"\nYour browser sent an invalid request.\n</body></html>\n",
}


@pytest.mark.parametrize("key", list(CAPTURED), ids=str)
def test_default_pages_are_haproxys_bytes(key):
    assert ERROR_PAGES[key] == CAPTURED[key]


def test_every_default_code_has_both_pages():
    for code in (400, 403, 405, 408, 425, 429, 500, 501, 502, 503, 504):
        assert ERROR_PAGES[(code, True)].endswith(b"</body></html>\n")
        assert b"connection: close\r\n" in ERROR_PAGES[(code, True)]


def test_errorfile_rendering_unit():
    data = b"HTTP/1.1 503 Busy\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n"
    data += b"Content-Length: 3\r\nX-A:   v  \r\n\r\nno\n"
    assert render_errorfile(data, False) == (
        b"HTTP/1.1 503 Busy\r\ncontent-type: text/plain\r\ncontent-length: 3\r\nx-a: v\r\n\r\nno\n"
    )
    assert render_errorfile(data, True).endswith(b"x-a: v\r\nconnection: close\r\n\r\nno\n")
    assert render_errorfile(b"", False) == b""


def _cfg(port: int, port2: int, tmp_path) -> str:
    busy = tmp_path / "503.http"
    busy.write_bytes(
        b"HTTP/1.0 503 Busy\r\nCache-Control: no-cache\r\nConnection: close\r\n"
        b"Content-Type: text/plain\r\nX-Odd:  two  spaces\r\n\r\nsorry busy\n"
    )
    return f"""{DEFAULTS}
    errorfile 503 {busy}
frontend fe
    mode http
    bind 127.0.0.1:{port}
    default_backend be
backend be
    mode http
    server s1 127.0.0.1:9 disabled
backend silent
    mode http
    errorfile 503 /dev/null
    server s1 127.0.0.1:9 disabled
frontend fe2
    mode http
    bind 127.0.0.1:{port2}
    default_backend silent
"""


def test_errorfile_like_haproxy(launcher, tmp_path):
    hp, hp2, pp, pp2 = (free_port() for _ in range(4))
    launcher.haproxy(_cfg(hp, hp2, tmp_path), wait=[hp, hp2])
    launcher.start(_cfg(pp, pp2, tmp_path), wait=[pp, pp2])
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    theirs, ours = exchange(hp, req), exchange(pp, req)
    assert theirs[0].startswith(b"HTTP/1.0 503 Busy\r\ncache-control: no-cache\r\n")
    assert ours == theirs
    # /dev/null: the connection closes without an answer
    assert exchange(hp2, req) == exchange(pp2, req) == (b"", True)
