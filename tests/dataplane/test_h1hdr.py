"""Unit tests of the Connection/forwardfor head rewrites (h1hdr.py)."""

from __future__ import annotations

from pyhaproxy.dataplane.h1hdr import CLO, KAL, SCL, Forward, combined_mode, request_head
from pyhaproxy.dataplane.h1hdr import response_head as resp


class T:
    def get_extra_info(self, name):
        return ("192.0.2.7", 1234) if name == "peername" else ("10.1.1.1", 80)


def test_request_tokens_per_mode():
    req = b"GET / HTTP/1.1\r\nConnection: close, Upgrade\r\nX: 1\r\nconnection: Keep-Alive\r\n\r\nB"
    assert request_head(req, True, False, None, None) == (
        b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nX: 1\r\n\r\nB"
    )
    assert request_head(req, False, False, None, None) == (
        b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nX: 1\r\nconnection: close\r\n\r\nB"
    )
    plain = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert request_head(plain, True, False, None, None) is plain


def test_response_tokens():
    r = b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
    assert resp(r, True, False) == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert resp(r, False, False).endswith(b"Content-Length: 0\r\nconnection: close\r\n\r\n")
    assert resp(r, True, True).endswith(b"Content-Length: 0\r\nconnection: keep-alive\r\n\r\n")


def test_forward_headers_and_modes():
    fwd = Forward({"forwardfor": ("header", "X-Client"), "originalto": ()}, {})
    out = request_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True, False, fwd, T())
    assert (
        out
        == b"GET / HTTP/1.1\r\nHost: x\r\nx-client: 192.0.2.7\r\nx-original-to: 10.1.1.1\r\n\r\n"
    )
    skip = Forward({"forwardfor": ("except", "192.0.2.0/24")}, {"forwardfor": ("if-none",)})
    assert not skip.lines(b"GET / HTTP/1.1\r\n", 16, T())
    assert combined_mode(KAL, CLO) == SCL and combined_mode(CLO, KAL) == CLO
    assert combined_mode(SCL, KAL) == SCL and combined_mode(KAL, KAL) == KAL
