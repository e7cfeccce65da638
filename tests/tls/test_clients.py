"""TLS termination seen by real clients, ``openssl s_client`` and ``curl``,
against pyhaproxy and Debian's haproxy on the same configuration
(configuration.txt §5.1 "crt", "alpn", "ssl-min-ver", "ssl-max-ver",
"verify", "ca-file")."""

from __future__ import annotations

import shutil

import pytest

from tests.dataplane.servers import free_port
from tests.tls.tlsutil import Seen, curl, s_client

pytestmark = pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("curl")), reason="openssl or curl missing"
)

CFG = """global
    crt-base {d}
    ca-base {d}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend f
    bind 127.0.0.1:{port} {bind}
    http-request return status 200 content-type text/plain string ok
"""


def _both(launcher, pki_dir, bind: str) -> tuple[int, int]:
    """pyhaproxy's and haproxy's ports, running the same frontend."""
    ports = []
    for start in (launcher.start, launcher.haproxy):
        port = free_port()
        start(CFG.format(d=pki_dir, port=port, bind=bind), wait=port)
        ports.append(port)
    return ports[0], ports[1]


SNI = {
    "exact": ("-servername", "www.exact.test"),
    "alt": ("-servername", "alt.exact.test"),
    "wildcard": ("-servername", "foo.wild.test"),
    "unknown": ("-servername", "unknown.test"),
    "absent": ("-noservername",),
}


def test_s_client_sni_like_haproxy(launcher, pki_dir):
    ours, ref = _both(launcher, pki_dir, "ssl crt default.pem crt exact.pem crt wild.pem")
    seen = {k: s_client(ours, *args).cn for k, args in SNI.items()}
    assert seen == {k: s_client(ref, *args).cn for k, args in SNI.items()}
    assert seen == {
        "exact": "www.exact.test",
        "alt": "www.exact.test",
        "wildcard": "*.wild.test",
        "unknown": "default.test",
        "absent": "default.test",
    }


def test_s_client_strict_sni_like_haproxy(launcher, pki_dir):
    ours, ref = _both(launcher, pki_dir, "ssl crt default.pem crt exact.pem strict-sni")
    seen = {k: s_client(ours, *args).ok for k, args in SNI.items()}
    assert seen == {k: s_client(ref, *args).ok for k, args in SNI.items()}
    assert seen["exact"] and not seen["unknown"] and not seen["absent"]


@pytest.mark.parametrize(
    "offer, expect",
    [(("-alpn", "foo"), "foo"), (("-alpn", "bar,http/1.1"), "http/1.1"), (("-alpn", "bar"), None)],
)
def test_s_client_alpn_like_haproxy(launcher, pki_dir, offer, expect):
    ours, ref = _both(launcher, pki_dir, "ssl crt default.pem alpn http/1.1,foo")
    seen = s_client(ours, *offer)
    assert seen.ok and seen.alpn == expect
    assert seen.alpn == s_client(ref, *offer).alpn


@pytest.mark.parametrize(
    "bind, client, version",
    [
        ("ssl-min-ver TLSv1.3", "-tls1_2", None),
        ("ssl-min-ver TLSv1.3", "-tls1_3", "TLSv1.3"),
        ("ssl-max-ver TLSv1.2", "-tls1_3", None),
        ("ssl-max-ver TLSv1.2", "-tls1_2", "TLSv1.2"),
        ("no-tlsv13", "-tls1_3", None),
        ("", "-tls1_1", None),  # HAProxy 2.6's default minimum is TLSv1.2
    ],
)
def test_s_client_versions_like_haproxy(launcher, pki_dir, bind, client, version):
    ours, ref = _both(launcher, pki_dir, f"ssl crt default.pem {bind}")
    seen = [s_client(port, client) for port in (ours, ref)]
    assert [s.version if s.ok else None for s in seen] == [version, version]


def test_s_client_client_certificate_like_haproxy(launcher, pki_dir):
    """``verify required``: TLS 1.2 handshakes fail without a certificate or
    with one from another CA, succeed with one the CA issued."""
    ours, ref = _both(launcher, pki_dir, "ssl crt exact.pem verify required ca-file ca.pem")
    good = ("-cert", str(pki_dir / "client.pem"), "-key", str(pki_dir / "client.pem"))
    stranger = pki_dir / "client-stranger.pem"
    cases = {
        "none": ("-tls1_2",),
        "good": ("-tls1_2", *good),
        "stranger": ("-tls1_2", "-cert", str(stranger), "-key", str(stranger)),
    }
    for port in (ours, ref):
        seen = {k: s_client(port, *args).ok for k, args in cases.items()}
        assert seen == {"none": False, "good": True, "stranger": False}, port


def test_curl_client_certificate_like_haproxy(launcher, pki_dir):
    ours, ref = _both(launcher, pki_dir, "ssl crt exact.pem verify required ca-file ca.pem")
    ca = ("--cacert", str(pki_dir / "ca.pem"))
    cert = ("--cert", str(pki_dir / "client.pem"), "--key", str(pki_dir / "client.pem"))
    for port in (ours, ref):
        assert curl(port, *ca, *cert) == "ok"
        assert curl(port, *ca).startswith("error "), port  # no certificate: refused
    # the server certificate verified against the CA for the name asked
    assert curl(ours, *ca, *cert, host="alt.exact.test") == "ok"


def test_curl_sni_and_alpn_like_haproxy(launcher, pki_dir):
    ours, ref = _both(launcher, pki_dir, "ssl crt default.pem crt exact.pem alpn http/1.1")
    ca = ("--cacert", str(pki_dir / "ca.pem"))
    for port in (ours, ref):
        assert curl(port, *ca) == "ok"  # exact.pem verified for www.exact.test
        # unknown name: the default certificate, which curl rejects (status 60)
        assert curl(port, *ca, host="unknown.test") == "error 60"
        assert curl(port, "-k", "--http1.1", "-o", "/dev/null", "-w", "%{http_version}") == "1.1"


def test_seen_of_refused_handshake():
    """A port nobody listens on is a failed observation, not an exception."""
    assert s_client(free_port(), timeout=5) == Seen(False)


@pytest.mark.parametrize("crt, sent", [("exact.pem", 1), ("chain.pem", 2)])
def test_s_client_chain_sent_like_haproxy(launcher, pki_dir, crt, sent):
    """The chain is the certificate file's; the ``ca-file`` that verifies
    clients adds nothing to it."""
    ours, ref = _both(launcher, pki_dir, f"ssl crt {crt} verify optional ca-file ca.pem")
    assert s_client(ours, "-showcerts").chain == s_client(ref, "-showcerts").chain == sent
