"""Payload fetches (``req.len``, ``req.rdp_cookie[_cnt]``) and the
undecided ACL result (HAProxy's ACL_TEST_MISS) they give while more data
may come: pyhaproxy/sample/payload.py, acl.py."""

from __future__ import annotations

import pytest

from pyhaproxy.sample import compile_condition
from pyhaproxy.sample.fetch import ContentView, RequestView
from pyhaproxy.sample.payload import NOT_COOKIE, TOO_SHORT, rdp_cookie


def pdu(line: bytes) -> bytes:
    body = line + b"\x01\x00\x08\x00\x03\x00\x00\x00"
    x224 = bytes([6 + len(body), 0xE0, 0, 0, 0, 0, 0]) + body
    return b"\x03\x00" + (4 + len(x224)).to_bytes(2, "big") + x224


ALICE = pdu(b"Cookie: mstshash=alice\r\n")


def test_rdp_cookie_as_fetch_rdp_cookie_name():
    assert rdp_cookie(ALICE, b"mstshash") == (1, b"alice")
    assert rdp_cookie(ALICE, b"") == (1, b"alice")  # any name
    assert rdp_cookie(pdu(b"COOKIE:   MSTSHASH=x\r\n"), b"mstshash") == (1, b"x")
    assert rdp_cookie(pdu(b"Cookie: mstshash=\r\n"), b"mstshash") == (1, b"")
    assert rdp_cookie(ALICE[:18], b"mstshash") == (TOO_SHORT, b"")
    assert rdp_cookie(ALICE[:30], b"mstshash") == (TOO_SHORT, b"")
    assert rdp_cookie(pdu(b""), b"mstshash") == (NOT_COOKIE, b"")
    assert rdp_cookie(ALICE, b"msts") == (NOT_COOKIE, b"")
    assert rdp_cookie(pdu(b"Cookie: a=b\n\r\n"), b"") == (1, b"b\n")  # up to the CR
    assert rdp_cookie(pdu(b"Cookie: ab\r\n"), b"") == (NOT_COOKIE, b"")


def run(cond: tuple[str, ...], data: bytes, final: bool = False) -> str:
    """PASS, FAIL or MISS, as acl_exec_cond answers."""
    test = compile_condition(cond, {}).test
    view = ContentView(data, lambda: ("127.0.0.1", 1), None, final)
    if test(view):
        return "PASS"
    return "MISS" if view.miss else "FAIL"


@pytest.mark.parametrize(
    ("cond", "data", "final", "want"),
    [
        (("if", "RDP_COOKIE"), b"", False, "MISS"),
        (("if", "RDP_COOKIE"), ALICE[:25], False, "MISS"),
        (("if", "RDP_COOKIE"), ALICE[:25], True, "FAIL"),
        (("if", "RDP_COOKIE"), ALICE, False, "PASS"),
        (("if", "RDP_COOKIE"), pdu(b""), False, "FAIL"),  # no cookie: decided
        (("unless", "RDP_COOKIE"), b"", False, "MISS"),
        (("unless", "RDP_COOKIE"), ALICE, False, "FAIL"),
        (("unless", "RDP_COOKIE"), pdu(b""), False, "PASS"),
        (("if", "!RDP_COOKIE"), b"xx", False, "MISS"),
        (("if", "{", "req.len", "gt", "0", "}"), b"", False, "MISS"),
        (("if", "{", "req.len", "gt", "0", "}"), b"", True, "FAIL"),
        (("if", "{", "req_len", "gt", "0", "}"), b"x", False, "PASS"),
        (("if", "{", "req.len", "lt", "3", "}"), b"xxxx", False, "MISS"),
        # AND stops at a MISS; a FAIL first decides
        (("if", "RDP_COOKIE", "{", "req.len", "gt", "0", "}"), b"x", False, "MISS"),
        (("if", "{", "src", "10.0.0.1", "}", "RDP_COOKIE"), b"", False, "FAIL"),
        # a PASS wins an OR; a MISS beats a FAIL
        (("if", "RDP_COOKIE", "||", "{", "req.len", "gt", "0", "}"), b"x", False, "PASS"),
        (("if", "RDP_COOKIE", "||", "{", "src", "10.0.0.1", "}"), b"", False, "MISS"),
        # a PASS then a decided FAIL under AND: FAIL, no wait
        (
            ("if", "{", "req.len", "gt", "0", "}", "!{", "src", "127.0.0.1", "}"),
            b"x",
            False,
            "FAIL",
        ),
        (("if", "{", "req.rdp_cookie(mstshash)", "-m", "str", "alice", "}"), ALICE, False, "PASS"),
        (("if", "{", "rdp_cookie", "-m", "str", "bob", "}"), ALICE, False, "FAIL"),
        (("if", "{", "rdp_cookie_cnt(other)", "eq", "0", "}"), ALICE, False, "PASS"),
        (("if", "{", "req.rdp_cookie_cnt", "eq", "1", "}"), ALICE[:20], False, "MISS"),
    ],
)
def test_content_conditions(cond, data, final, want):
    assert run(cond, data, final) == want


def test_http_views_are_always_final():
    """The same conditions over a complete HTTP request never wait."""
    test = compile_condition(("unless", "RDP_COOKIE"), {}).test
    assert test(RequestView(b"GET / HTTP/1.1\r\n\r\n")) is True
