"""TLS termination through the real process, compared with Debian's haproxy
where both can be observed the same way (configuration.txt §5.1 "crt",
"crt-list", "strict-sni", "alpn", "ssl-min-ver", "ssl-max-ver", "ciphers",
"ciphersuites", "verify", "ca-file", "crl-file")."""

from __future__ import annotations

import ssl

import pytest

from tests.dataplane.servers import free_port
from tests.tls.tlsutil import get, hello, status

HEAD = """global
    crt-base {d}
    ca-base {d}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend f
    bind 127.0.0.1:{port} {bind}
"""
OK = "    http-request return status 200 content-type text/plain string ok\n"


def _both(launcher, pki_dir, bind: str, rules: str = OK) -> tuple[int, int]:
    """Start pyhaproxy and haproxy with the same frontend; their ports."""
    ports = []
    for which in ("pyhaproxy", "haproxy"):
        port = free_port()
        cfg = HEAD.format(d=pki_dir, port=port, bind=bind) + rules
        if which == "pyhaproxy":
            launcher.start(cfg, wait=port)
        else:
            launcher.haproxy(cfg, wait=port)
        ports.append(port)
    return ports[0], ports[1]


def _cn(port: int, sni: str | None, **kw) -> str:
    try:
        return hello(port, sni, **kw).cn
    except (ssl.SSLError, OSError):
        # haproxy sends an alert, pyhaproxy (uvloop) closes: both refuse
        return "refused"


SNIS = [
    "www.exact.test",
    "ALT.exact.test",
    "foo.wild.test",
    "wild.test",
    "a.b.wild.test",
    "unknown.test",
    None,
]


def test_sni_selection_like_haproxy(launcher, pki_dir):
    ours, ref = _both(launcher, pki_dir, "ssl crt default.pem crt exact.pem crt wild.pem")
    seen = {sni: _cn(ours, sni) for sni in SNIS}
    assert seen == {sni: _cn(ref, sni) for sni in SNIS}
    assert seen["www.exact.test"] == "www.exact.test"
    assert seen["foo.wild.test"] == "*.wild.test"
    assert seen["unknown.test"] == seen[None] == "default.test"


def test_directory_and_strict_sni(launcher, pki_dir):
    ours, ref = _both(launcher, pki_dir, "ssl crt dir strict-sni")
    names = ["dir-a.test", "dir-b.test", "unknown.test", None]
    seen = {sni: _cn(ours, sni) for sni in names}
    assert seen == {sni: _cn(ref, sni) for sni in names}
    assert seen["dir-b.test"] == "dir-b.test"
    assert seen["unknown.test"] == "refused"


def test_crt_list_filters(launcher, pki_dir):
    (pki_dir / "sni.list").write_text(
        "default.pem\nwild.pem *.wild.test !no.wild.test\nexact.pem other.test\n"
    )
    ours, ref = _both(launcher, pki_dir, f"ssl crt-list {pki_dir}/sni.list")
    names = ["yes.wild.test", "no.wild.test", "other.test", "www.exact.test", None]
    seen = {sni: _cn(ours, sni) for sni in names}
    assert seen == {sni: _cn(ref, sni) for sni in names}
    assert seen["other.test"] == "www.exact.test"
    assert seen["www.exact.test"] == "default.test"  # a filter replaces the names


def test_alpn(launcher, pki_dir):
    ours, ref = _both(launcher, pki_dir, "ssl crt default.pem alpn foo,http/1.1")
    for offer in (["http/1.1"], ["bar", "foo"], ["bar"]):
        try:
            got = hello(ours, "x.test", alpn=offer).alpn
        except ssl.SSLError:
            got = "refused"
        try:
            want = hello(ref, "x.test", alpn=offer).alpn
        except ssl.SSLError:
            want = "refused"
        assert got == want, offer
    assert hello(ours, "x.test", alpn=["bar", "foo"]).alpn == "foo"


@pytest.mark.parametrize(
    "bind, kw",
    [
        ("ssl-max-ver TLSv1.2", {}),
        ("ssl-min-ver TLSv1.3", {"maxv": ssl.TLSVersion.TLSv1_2}),
        ("no-tlsv13", {}),
        ("ssl-max-ver TLSv1.2 ciphers ECDHE-ECDSA-AES128-GCM-SHA256", {}),
        ("ciphersuites TLS_CHACHA20_POLY1305_SHA256", {}),
        ("curves P-384", {}),
        ("ssl-max-ver TLSv1.2 ciphers ECDHE-ECDSA-AES128-GCM-SHA256", {"ciphers": "AES256"}),
    ],
)
def test_versions_and_ciphers(launcher, pki_dir, bind, kw):
    ours, ref = _both(launcher, pki_dir, f"ssl crt default.pem {bind}")

    def probe(port: int) -> tuple[str, str] | str:
        try:
            h = hello(port, "x.test", **kw)
        except (ssl.SSLError, OSError):
            return "refused"
        return h.version, h.cipher

    seen = probe(ours)
    assert seen == probe(ref)
    if "TLS_CHACHA20" in bind:
        assert seen == ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")


CLIENT_RULES = """    http-request return status 200 content-type text/plain string cert if { ssl_c_used }
    http-request return status 200 content-type text/plain string nocert
"""


def test_client_certificates_required_with_crl(launcher, pki_dir):
    ours, ref = _both(
        launcher,
        pki_dir,
        "ssl crt default.pem verify required ca-file ca.pem crl-file crl.pem",
        CLIENT_RULES,
    )
    for cert in (None, "client.pem", "client-revoked.pem", "client-stranger.pem"):
        path = pki_dir / cert if cert else None
        got, want = status(ours, cert=path), status(ref, cert=path)
        # without a certificate TLS 1.3 clients learn it at their first read
        assert (got == 200) == (want == 200), cert
    assert get(ours, cert=pki_dir / "client.pem").endswith(b"cert")


def test_client_certificates_optional(launcher, pki_dir):
    ours, ref = _both(
        launcher, pki_dir, "ssl crt default.pem verify optional ca-file ca.pem", CLIENT_RULES
    )
    for port in (ours, ref):
        assert get(port).endswith(b"nocert")
        assert get(port, cert=pki_dir / "client.pem").endswith(b"\r\n\r\ncert")
        assert status(port, cert=pki_dir / "client-stranger.pem") != 200


FETCH_RULES = """    http-request redirect scheme https unless { ssl_fc }
    http-request return status 200 content-type text/plain string dn if { ssl_c_s_dn(CN) -m str client-good } { ssl_c_i_dn -m sub /CN=Test CA } { ssl_c_verify 0 }
    http-request return status 200 content-type text/plain string sni if { ssl_fc_sni -m str www.exact.test } { ssl_fc_protocol TLSv1.3 } { ssl_fc_alpn -m str http/1.1 }
    http-request return status 200 content-type text/plain string cipher if { ssl_fc_cipher -m beg ECDHE- }
    http-request return status 200 content-type text/plain string other
"""


def test_fetches_and_redirect_like_haproxy(launcher, pki_dir):
    plain = [free_port(), free_port()]
    ports = []
    for i, which in enumerate(("pyhaproxy", "haproxy")):
        port = free_port()
        bind = "ssl crt default.pem alpn http/1.1 verify optional ca-file ca.pem"
        cfg = HEAD.format(d=pki_dir, port=port, bind=bind)
        cfg += f"    bind 127.0.0.1:{plain[i]}\n" + FETCH_RULES
        (launcher.start if which == "pyhaproxy" else launcher.haproxy)(cfg, wait=port)
        ports.append(port)
    import socket

    for i, port in enumerate(ports):
        with socket.create_connection(("127.0.0.1", plain[i]), timeout=5) as s:
            s.sendall(b"GET /a?b HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
            head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 302") and b"\r\nlocation: https://site.test/a?b\r\n" in (
            head.lower()
        ), head
        client = pki_dir / "client.pem"
        assert get(port, cert=client).endswith(b"dn")
        assert get(port, alpn=["http/1.1"]).endswith(b"sni")
        assert get(port, sni="other.test", alpn=["http/1.1"]).endswith(b"other")
        assert get(port, maxv=ssl.TLSVersion.TLSv1_2).endswith(b"cipher")
