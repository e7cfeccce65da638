"""TLS towards servers (configuration.txt §5.2 "ssl", "verify", "ca-file",
"sni", "crt"), compared with Debian's haproxy in front of the same TLS
origin."""

from __future__ import annotations

import pytest

from tests.dataplane.servers import free_port
from tests.tls.tlsutil import TlsOrigin, get, status

CFG = """global
    crt-base {d}
    ca-base {d}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend f
    bind 127.0.0.1:{port}
    bind 127.0.0.1:{tport} ssl crt default.pem crt exact.pem
    default_backend b
backend b
    {reuse}
    server s 127.0.0.1:{origin} ssl {opts}
"""


@pytest.fixture
def origin(pki_dir):
    srv = TlsOrigin(pki_dir / "exact.pem", free_port(), ca=pki_dir / "ca.pem")
    yield srv
    srv.close()


@pytest.fixture
def stranger(pki_dir):
    srv = TlsOrigin(pki_dir / "server-stranger.pem", free_port())
    yield srv
    srv.close()


def _plain_get(port: int) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n")
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def _both(launcher, pki_dir, origin_port: int, opts: str, reuse: str = "") -> list[tuple[int, int]]:
    out = []
    for which in ("pyhaproxy", "haproxy"):
        port, tport = free_port(), free_port()
        cfg = CFG.format(
            d=pki_dir, port=port, tport=tport, origin=origin_port, opts=opts, reuse=reuse
        )
        (launcher.start if which == "pyhaproxy" else launcher.haproxy)(cfg, wait=port)
        out.append((port, tport))
    return out


def _body(resp: bytes) -> bytes:
    return resp.split(b"\r\n", 1)[0] + b" " + resp.rpartition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    "opts, expect",
    [
        ("verify required ca-file ca.pem sni str(www.exact.test)", b"200 OK sni=www.exact.test"),
        ("verify required ca-file ca.pem sni str(alt.exact.test)", b"200 OK sni=alt.exact.test"),
        ("verify required ca-file ca.pem sni str(wrong.test)", b"503"),
        ("verify required ca-file ca.pem", b"200 OK sni=None nocert"),
        ("verify none crt client.pem", b"200 OK sni=None cert"),
        ("verify required ca-file ca.pem verifyhost alt.exact.test", b"200 OK sni=None"),
        ("verify required ca-file ca.pem verifyhost other.test", b"503"),
        # the SNI, when one is sent, is what the certificate must match
        ("verify required ca-file ca.pem sni str(wrong.test) verifyhost www.exact.test", b"503"),
        ("verify none ssl-max-ver TLSv1.2 alpn http/1.1", b"200 OK sni=None nocert"),
    ],
)
def test_server_tls_like_haproxy(launcher, pki_dir, origin, opts, expect):
    seen = [_body(_plain_get(port)) for port, _ in _both(launcher, pki_dir, origin.port, opts)]
    assert seen[0] == seen[1]
    assert expect in seen[0]


@pytest.mark.parametrize(
    "opts, ok", [("verify required ca-file ca.pem", False), ("verify none", True)]
)
def test_server_verification(launcher, pki_dir, stranger, opts, ok):
    for port, _ in _both(launcher, pki_dir, stranger.port, opts):
        assert _plain_get(port).startswith(b"HTTP/1.1 200" if ok else b"HTTP/1.1 503")


def test_sni_from_client(launcher, pki_dir, origin):
    for _, tport in _both(
        launcher,
        pki_dir,
        origin.port,
        "verify required ca-file ca.pem sni ssl_fc_sni",
        "http-reuse never",
    ):
        assert get(tport, sni="www.exact.test").endswith(b"sni=www.exact.test nocert")
        assert status(tport, sni="alt.exact.test") == 200


def test_dynamic_sni_needs_reuse_never(launcher, pki_dir, tmp_path):
    """Idle server connections are not keyed by SNI yet: refused, not wrong."""
    from tests.helpers import run_pyhaproxy

    cfg = tmp_path / "r.cfg"
    opts = "verify none sni ssl_fc_sni"
    cfg.write_text(CFG.format(d=pki_dir, port=1, tport=2, origin=3, opts=opts, reuse=""))
    assert run_pyhaproxy("-c", "-f", str(cfg)).returncode == 0
    run = run_pyhaproxy("-f", str(cfg), "-db", timeout=20)
    assert run.returncode != 0 and "http-reuse never" in run.stderr


@pytest.mark.parametrize("opts", ["verify none", "verify none no-ssl-reuse"])
@pytest.mark.parametrize("maxv", ["TLSv1.2", "TLSv1.3"])
def test_session_reuse_like_haproxy(launcher, pki_dir, origin, opts, maxv):
    """Each request opens a server connection (http-reuse never): the
    server's last session is offered again unless no-ssl-reuse."""
    seen = []
    for port, _ in _both(
        launcher, pki_dir, origin.port, f"{opts} ssl-max-ver {maxv}", "http-reuse never"
    ):
        origin.reused.clear()
        for _ in range(3):
            assert _plain_get(port).startswith(b"HTTP/1.1 200")
        seen.append(list(origin.reused))
    # haproxy offers the first session from the third connection on, pyhaproxy
    # from the second: both resume, neither with no-ssl-reuse
    for flags in seen:
        assert flags[0] is False and flags[-1] is ("no-ssl-reuse" not in opts), seen
    assert seen[0] == [False, True, True] or "no-ssl-reuse" in opts


@pytest.fixture
def origin12(pki_dir):
    """A TLS origin that speaks TLS 1.2 at most."""
    import ssl

    srv = TlsOrigin(pki_dir / "exact.pem", free_port(), maxv=ssl.TLSVersion.TLSv1_2)
    yield srv
    srv.close()


def _both_global(launcher, pki_dir, origin_port: int, glob: str, opts: str) -> list[int]:
    """Like ``_both`` with ``global`` lines added; the clear-text ports."""
    ports = []
    for start in (launcher.start, launcher.haproxy):
        port, tport = free_port(), free_port()
        cfg = CFG.format(
            d=pki_dir, port=port, tport=tport, origin=origin_port, opts=opts, reuse=""
        ).replace("global\n", "global\n" + glob, 1)
        start(cfg, wait=port)
        ports.append(port)
    return ports


@pytest.mark.parametrize(
    "glob, opts, expect",
    [
        # the global minimum is above what the server speaks: 503
        ("    ssl-default-server-options ssl-min-ver TLSv1.3\n", "verify none", None),
        # a server line's own setting wins over the global one
        (
            "    ssl-default-server-options ssl-min-ver TLSv1.3\n",
            "verify none ssl-min-ver TLSv1.2",
            ("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"),
        ),
        ("    ssl-default-server-options force-tlsv13\n", "verify none", None),
        (
            "    ssl-default-server-ciphers ECDHE-ECDSA-AES128-GCM-SHA256\n",
            "verify none",
            ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
        ),
        ("    ssl-default-server-ciphers ECDHE-ECDSA-AES128-SHA\n", "verify none", None),
    ],
)
def test_default_server_options_like_haproxy(launcher, pki_dir, origin12, glob, opts, expect):
    for port in _both_global(launcher, pki_dir, origin12.port, glob, opts):
        origin12.ciphers.clear()
        resp = _plain_get(port)
        if expect is None:
            assert resp.startswith(b"HTTP/1.1 503"), (port, resp[:40])
            assert origin12.ciphers == []
        else:
            assert resp.startswith(b"HTTP/1.1 200"), (port, resp[:40])
            assert origin12.ciphers == [expect], port


def test_default_server_ciphersuites_like_haproxy(launcher, pki_dir, origin):
    glob = "    ssl-default-server-ciphersuites TLS_CHACHA20_POLY1305_SHA256\n"
    for port in _both_global(launcher, pki_dir, origin.port, glob, "verify none"):
        origin.ciphers.clear()
        assert _plain_get(port).startswith(b"HTTP/1.1 200")
        assert origin.ciphers == [("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")], port
