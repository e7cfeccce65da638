"""Key extraction for the hash algorithms, without sockets."""

from __future__ import annotations

from types import SimpleNamespace

from pyhaproxy.lb.base import LbSettings
from pyhaproxy.lb.hashes import sdbm
from pyhaproxy.lb.keys import (
    _domain_only,
    _find_param,
    _path_only,
    hdr_key,
    source_key,
    uri_key,
)


def test_domain_only():
    assert _domain_only(b"haproxy.1wt.eu") == b"1wt"
    assert _domain_only(b"www.haproxy.org") == b"haproxy"
    assert _domain_only(b"localhost") == b"localhost"
    assert _domain_only(b"example.com") == b"example"


def test_find_param():
    assert _find_param(b"a=1&user=bob&z", b"user") == b"bob"
    assert _find_param(b"user=&x=1", b"user") == b""
    assert _find_param(b"xuser=1&user2=3", b"user") is None
    assert _find_param(b"user", b"user") is None
    # in a body only the value's first byte is judged (as haproxy 2.6,
    # checked in test_down_and_back.py::test_url_param_down_and_back)
    assert _find_param(b"user=a b&c", b"user", post=True) == b"a b"
    assert _find_param(b"user=a\x01b", b"user", post=True) == b"a\x01b"
    assert _find_param(b"user= ab", b"user", post=True) == b""
    assert _find_param(b"user=\x01b", b"user", post=True) is None


def test_path_only():
    assert _path_only(b"/a?b") == b"/a?b"
    assert _path_only(b"http://h:80/x/y?z") == b"/x/y?z"
    assert _path_only(b"http://h") == b""
    assert _path_only(b"*") == b""


def test_uri_depth_and_len():
    head = b"GET /a/b/c?q HTTP/1.1\r\nHost: x\r\n\r\n"
    key = uri_key(LbSettings(args=("depth", "2")))
    assert key(None, head) == sdbm(b"/a/b")
    key = uri_key(LbSettings(args=("len", "3", "whole")))
    assert key(None, head) == sdbm(b"/a/")
    assert uri_key(LbSettings(args=("whole",)))(None, head) == sdbm(b"/a/b/c?q")


def test_hdr_first_value_case_insensitive():
    head = b"GET / HTTP/1.1\r\nx-key:  v1 , v2\r\nX-Key: v3\r\n\r\n"
    assert hdr_key(LbSettings(param="X-KEY"))(None, head) == sdbm(b"v1")
    assert hdr_key(LbSettings(param="other"))(None, head) is None


def test_source_ipv4_and_ipv6():
    def sess(host):
        return SimpleNamespace(transport=SimpleNamespace(get_extra_info=lambda n: (host, 1)))

    key = source_key(LbSettings())
    assert key(sess("127.0.0.1"), b"") == 0x7F000001
    assert key(sess("::1"), b"") == 1
    assert key(sess("::ffff:127.0.0.1"), b"") == 0xFFFF ^ 0x7F000001
    assert key(SimpleNamespace(transport=None), b"") is None
