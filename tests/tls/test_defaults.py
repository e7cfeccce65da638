"""Session resumption on by default, ``global`` ssl defaults, and what
pyhaproxy refuses rather than ignores (configuration.txt §3.1
"ssl-default-bind-options", "ssl-default-bind-ciphers"; §5.1 "no-tls-tickets")."""

from __future__ import annotations

import socket
import ssl

import pytest

from tests.dataplane.servers import free_port
from tests.helpers import run_pyhaproxy
from tests.tls.tlsutil import client_ctx, hello

CFG = """global
    crt-base {d}
    ca-base {d}
{glob}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend f
    bind 127.0.0.1:{port} ssl crt default.pem {bind}
    http-request return status 200 content-type text/plain string ok
"""


def _resumed(port: int, maxv: ssl.TLSVersion) -> bool:
    """A second connection offering the first one's session resumes it."""
    ctx = client_ctx(maxv=maxv)
    req = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    session = None
    reused = False
    for _ in range(2):
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="x.test", session=session) as tls,
        ):
            tls.sendall(req)
            while tls.recv(65536):
                pass  # TLS 1.3 tickets arrive after the handshake
            session, reused = tls.session, tls.session_reused
    return reused


def _start_both(launcher, pki_dir, bind: str = "", glob: str = "") -> list[int]:
    ports = []
    for start in (launcher.start, launcher.haproxy):
        port = free_port()
        start(CFG.format(d=pki_dir, port=port, bind=bind, glob=glob), wait=port)
        ports.append(port)
    return ports


@pytest.mark.parametrize("bind", ["", "no-tls-tickets"])
def test_resumption_like_haproxy(launcher, pki_dir, bind):
    ours, ref = _start_both(launcher, pki_dir, bind)
    for maxv in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert _resumed(ours, maxv) == _resumed(ref, maxv), (bind, maxv)
    assert _resumed(ours, ssl.TLSVersion.TLSv1_3)


def test_global_bind_defaults_like_haproxy(launcher, pki_dir):
    glob = (
        "    ssl-default-bind-options ssl-max-ver TLSv1.2\n"
        "    ssl-default-bind-ciphers ECDHE-ECDSA-AES256-GCM-SHA384\n"
    )
    ours, ref = _start_both(launcher, pki_dir, glob=glob)
    seen = [(h.version, h.cipher) for h in (hello(ours, "x.test"), hello(ref, "x.test"))]
    assert seen[0] == seen[1] == ("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384")


@pytest.mark.parametrize(
    "bind, refused",
    [
        ("alpn h2,http/1.1", "bind alpn h2"),
        ("npn http/1.1", "bind npn"),
        ("crt-ignore-err all", "bind crt-ignore-err"),
        ("generate-certificates", "bind generate-certificates"),
    ],
)
def test_refused_at_start(pki_dir, tmp_path, bind, refused):
    cfg = tmp_path / "r.cfg"
    cfg.write_text(CFG.format(d=pki_dir, port=free_port(), bind=bind, glob=""))
    assert run_pyhaproxy("-c", "-f", str(cfg)).returncode == 0
    run = run_pyhaproxy("-f", str(cfg), "-db", timeout=20)
    assert run.returncode != 0 and refused in run.stderr, run.stderr


def test_cachesize_zero_keeps_tickets(launcher, pki_dir):
    """``tune.ssl.cachesize 0``: no session cache; TLS 1.3 tickets resume."""
    glob = "    tune.ssl.cachesize 0\n"
    ours, ref = _start_both(launcher, pki_dir, glob=glob)
    for maxv in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert _resumed(ours, maxv) == _resumed(ref, maxv), maxv
    ours2, ref2 = _start_both(launcher, pki_dir, "no-tls-tickets", glob)
    for maxv in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert _resumed(ours2, maxv) == _resumed(ref2, maxv), ("no tickets", maxv)
