"""The ACL engine without sockets: fetches, matching, conditions (§7)."""

from __future__ import annotations

import pytest

from pyhaproxy.sample import AclError, AclPending, RequestView, compile_condition, parse_expression

HEAD = (
    b"GET /api/v1/items?id=42&lang=fr HTTP/1.1\r\n"
    b"Host: WWW.Example.com\r\nAccept: text/html, application/json\r\n"
    b"Content-Length: 3\r\n\r\n"
)


def view(raw: bytes = HEAD, ip: str = "10.1.2.3") -> RequestView:
    return RequestView(raw, lambda: (ip, 40000))


def cond(text: str, acls=None, v: RequestView | None = None) -> bool:
    return compile_condition(text.split(), acls or {}).test(v or view())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("if { path /api/v1/items }", True),
        ("if { path /api }", False),
        ("if { path_beg /static /api }", True),
        ("if { path_end /items }", True),
        ("if { path_end .css .js }", False),
        ("if { path_reg ^/api/v[0-9]+/ }", True),
        ("if { path -m sub v1 }", True),
        ("if { path -m beg /API }", False),
        ("if { path -i -m beg /API }", True),
        ("if { hdr(host) www.example.com }", False),
        ("if { hdr(host) -i www.example.com }", True),
        ("if { hdr_beg(host) -i www. }", True),
        ("if { hdr_end(host) .com }", True),
        ("if { hdr(accept) application/json }", True),
        ("if { hdr(x-missing) -m found }", False),
        ("if { hdr(host) -m found }", True),
        ("if { url_param(id) 42 }", True),
        ("if { url_param(lang) -m str en fr }", True),
        ("if { url_param(nope) -m found }", False),
        ("if { method GET }", True),
        ("if { src 10.0.0.0/8 }", True),
        ("if { src 192.168.0.0/16 ::1 }", False),
        ("if { src -m str 10.1.2.3 }", True),
        ("if METH_GET HTTP_1.1 HTTP_CONTENT", True),
        ("if METH_POST || HTTP_1.0", False),
        ("if METH_POST or TRUE", True),
        ("unless METH_GET", False),
        ("if ! METH_GET", False),
        ("if !FALSE", True),
        ("if HTTP_URL_SLASH !HTTP_URL_ABS", True),
        ("if LOCALHOST", False),
    ],
)
def test_condition(text, expected):
    assert cond(text) is expected


def test_and_binds_tighter_than_or():
    # (FALSE and TRUE) or TRUE
    assert cond("if FALSE TRUE || TRUE")
    # TRUE and (FALSE or ...) is not how it reads: FALSE TRUE is false
    assert not cond("if TRUE FALSE || FALSE TRUE")


def test_named_acls_or_together():
    acls = {
        "static": [parse_expression(["path_beg", "/static"]), parse_expression(["path_end", "s"])]
    }
    assert cond("if static", acls)
    assert not cond("if static", acls, view(b"GET /x HTTP/1.1\r\n\r\n"))


def test_ipv6_source():
    v6 = view(ip="2001:db8::5")
    assert cond("if { src 2001:db8::/32 }", v=v6)
    assert not cond("if { src 10.0.0.0/8 }", v=v6)
    assert cond("if LOCALHOST", v=view(ip="::1"))


def test_headers_parsed_only_when_needed():
    v = view()
    assert cond("if { path_beg /api } METH_GET", v=v)
    assert v._headers is None
    assert cond("if { hdr(host) -m found }", v=v)
    assert v._headers is not None


def test_layer_of_condition():
    assert compile_condition(["if", "{", "src", "10.0.0.1", "}"], {}).layer == 4
    assert compile_condition(["if", "{", "path", "/", "}"], {}).layer == 7


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["if", "nope"], "no such ACL : 'nope'."),
        (["if", "{", "path", "/a"], "missing closing '}' in condition."),
        (
            ["if", "{", "hdr_zz(host)", "/a", "}"],
            "unknown fetch method 'hdr_zz' in ACL expression 'hdr_zz(host)'.",
        ),
        (["if", "{", "src", "1.2.3.400", "}"], "'1.2.3.400' is not a valid IPv4 or IPv6 address."),
        (
            ["if", "{", "src", "10.0.0.0/33", "}"],
            "'10.0.0.0/33' is not a valid IPv4 or IPv6 address.",
        ),
        (
            ["if", "{", "path", "-m", "zzz", "/x", "}"],
            "unknown matching method 'zzz' when parsing ACL expression.",
        ),
    ],
)
def test_errors_worded_as_haproxy(words, message):
    with pytest.raises(AclError) as info:
        compile_condition(words, {})
    assert info.value.message == message


def test_bad_regex():
    with pytest.raises(AclError, match=r"^regex '\(abc' is invalid"):
        parse_expression(["path_reg", "(abc"])


def test_known_haproxy_fetch_is_pending_not_unknown():
    with pytest.raises(AclPending):
        parse_expression(["ssl_bc_alpn"])  # ssl_fc: pyhaproxy/sample/ssl_fetches.py
    with pytest.raises(AclPending):
        compile_condition(["if", "WAIT_END"], {})
