"""``option httpslog`` and the TLS log variables (configuration.txt §8.2.4
"HTTPS log format"): the lines of a TLS frontend compared with Debian
haproxy's, for clients with and without SNI and for resumed sessions."""

from __future__ import annotations

import re
import socket
import ssl

import pytest

from tests.dataplane.conftest import ROOT
from tests.log.test_compat import http_cfg, mask, run_both

CERT = ROOT / "conf" / "examples" / "example.com.pem"


def _client() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.3 tickets arrive after the answer
    return ctx


def _tls_get(ctx: ssl.SSLContext, port: int, path: str, sni: str | None, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname=sni, session=session) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        while s.recv(65536):
            pass
        return s.session


def _cfg(option: str):
    return http_cfg(
        f"    {option}\n    http-request return status 200 content-type text/plain string ok\n"
    )


def _bind_ssl(make):
    def cfg(port: int, log: str) -> str:
        return make(port, log).replace(
            f"bind 127.0.0.1:{port}", f"bind 127.0.0.1:{port} ssl crt {CERT}"
        )

    return cfg


@pytest.mark.parametrize(
    "option",
    [
        "option httpslog",
        "option httplog",  # %ft gets HAProxy's "~" on a TLS connection
        'log-format "%ft %sslv %sslc %[ssl_fc_sni,upper] %[ssl_fc,hex] %[ssl_fc_is_resumed]"',
    ],
)
def test_tls_lines_as_haproxy(launcher, receivers, option):
    def traffic(port: int) -> None:
        ctx = _client()
        session = _tls_get(ctx, port, "/nosni", None)
        _tls_get(ctx, port, "/sni", "example.com")
        _tls_get(ctx, port, "/again", None, session)  # resumed: ssl_fc_is_resumed 1

    def masker(line: str) -> str:
        # the launcher's readiness probe, closed before any handshake, counts
        # in haproxy's %ac/%fc until it notices the close: a race, masked
        return re.sub(r" \d+/\d+/(\d+/\d+/\d+) ", r" A/F/\1 ", mask(line))

    theirs, ours = run_both(launcher, receivers, _bind_ssl(_cfg(option)), traffic, 3, masker)
    assert len(theirs) == 3 and "fe~" in theirs[0]
    assert ours == theirs
