"""crt-list per-line ``[<sslbindconf>]`` options through the real process,
compared with Debian's haproxy (configuration.txt §5.1 "crt-list": verify,
ca-file, crl-file, no-ca-names, ssl-min-ver, ssl-max-ver, ciphers,
ciphersuites, curves, alpn)."""

from __future__ import annotations

import ssl
import subprocess
import sys

import pytest

from tests.dataplane.servers import free_port
from tests.tls.tlsutil import hello, s_client, status

HEAD = """global
    crt-base {d}
    ca-base {d}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend f
    bind 127.0.0.1:{port} ssl crt-list {d}/{name}
    http-request return status 200 content-type text/plain string cert if {{ ssl_c_used }}
    http-request return status 200 content-type text/plain string ok
"""


def _both(launcher, pki_dir, name: str, text: str) -> tuple[int, int]:
    """pyhaproxy and haproxy serving the crt-list ``text``: their ports."""
    (pki_dir / name).write_text(text)
    ports = []
    for run in (launcher.start, launcher.haproxy):
        port = free_port()
        run(HEAD.format(d=pki_dir, port=port, name=name), wait=port)
        ports.append(port)
    return ports[0], ports[1]


def _probe(port: int, sni: str, **kw) -> tuple[str, str, str] | str:
    try:
        h = hello(port, sni, **kw)
    except (ssl.SSLError, OSError):
        return "refused"
    return h.cn, h.version, h.cipher


def test_verify_per_line(launcher, pki_dir):
    ours, ref = _both(
        launcher,
        pki_dir,
        "verify.list",
        "default.pem\nexact.pem [verify required ca-file ca.pem crl-file crl.pem]\n"
        "wild.pem [verify optional ca-file ca.pem]\n",
    )
    cases = [
        (sni, cert)
        for sni in ("www.exact.test", "x.wild.test", "default.test")
        for cert in (None, "client.pem", "client-revoked.pem", "client-stranger.pem")
    ]
    for sni, cert in cases:
        path = pki_dir / cert if cert else None
        got, want = status(ours, sni=sni, cert=path), status(ref, sni=sni, cert=path)
        # a refused handshake shows as SSLError or a closed read
        assert (got == 200) == (want == 200), (sni, cert, got, want)
    assert status(ours, sni="www.exact.test") != 200
    assert status(ours, sni="default.test") == 200
    assert status(ours, sni="www.exact.test", cert=pki_dir / "client.pem") == 200


def _ca_names(port: int, sni: str) -> bool:
    run = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", sni],
        input=b"",
        capture_output=True,
        timeout=10,
    )
    out = run.stdout.decode("utf-8", "replace")
    assert "Acceptable client certificate CA names" in out or "No client certificate CA" in out
    return "Acceptable client certificate CA names" in out


def test_no_ca_names(launcher, pki_dir):
    ours, ref = _both(
        launcher,
        pki_dir,
        "canames.list",
        "default.pem [verify optional ca-file ca.pem]\n"
        "exact.pem [verify optional ca-file ca.pem no-ca-names]\n",
    )
    for sni in ("default.test", "www.exact.test"):
        assert _ca_names(ours, sni) == _ca_names(ref, sni), sni
    assert _ca_names(ours, "default.test") and not _ca_names(ours, "www.exact.test")


VERSIONS = (
    "default.pem\nexact.pem [ssl-min-ver TLSv1.3]\nwild.pem [ssl-max-ver TLSv1.2]\n"
    "chain.pem [ciphers ECDHE-ECDSA-AES256-GCM-SHA384 ciphersuites TLS_CHACHA20_POLY1305_SHA256]\n"
    "split.pem [curves P-384]\n"
)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"maxv": ssl.TLSVersion.TLSv1_2},
        {"minv": ssl.TLSVersion.TLSv1_3},
        {"maxv": ssl.TLSVersion.TLSv1_2, "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256"},
    ],
)
def test_versions_and_ciphers_per_line(launcher, pki_dir, kw):
    ours, ref = _both(launcher, pki_dir, "versions.list", VERSIONS)
    names = ["default.test", "www.exact.test", "x.wild.test", "chain.test", "split.test"]
    seen = {sni: _probe(ours, sni, **kw) for sni in names}
    assert seen == {sni: _probe(ref, sni, **kw) for sni in names}
    if not kw:
        assert seen["x.wild.test"][1] == "TLSv1.2"
        assert seen["chain.test"][2] == "TLS_CHACHA20_POLY1305_SHA256"
    if kw.get("maxv"):
        assert seen["www.exact.test"] == "refused"


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_curves_per_line(launcher, pki_dir, version):
    ours, ref = _both(launcher, pki_dir, "versions.list", VERSIONS)
    for sni in ("split.test", "default.test"):
        for groups in ("P-256", "P-384", "P-256:P-384"):
            args = (version, "-servername", sni, "-groups", groups)
            got, want = s_client(ours, *args), s_client(ref, *args)
            assert (got.ok, got.temp_key) == (want.ok, want.temp_key), (sni, groups)
    # HAProxy 2.6 keeps the first certificate's groups: a line's curves change nothing
    for groups in ("P-256", "P-384"):
        args = (version, "-groups", groups)
        split = s_client(ours, *args, "-servername", "split.test")
        default = s_client(ours, *args, "-servername", "default.test")
        assert (split.ok, split.temp_key) == (default.ok, default.temp_key)


def test_unimplemented_line_option_refused(pki_dir, tmp_path):
    (pki_dir / "npn.list").write_text("default.pem\nexact.pem [npn http/1.1]\n")
    cfg = tmp_path / "h.cfg"
    cfg.write_text(HEAD.format(d=pki_dir, port=free_port(), name="npn.list"))
    run = subprocess.run(
        [sys.executable, "-m", "pyhaproxy", "-db", "-f", str(cfg)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode != 0
    assert f"'npn' in file '{pki_dir}/npn.list', line 2" in run.stdout + run.stderr
    assert "not implemented yet" in run.stdout + run.stderr


@pytest.mark.parametrize("option", ["verify bogus", "ssl-min-ver TLSv9", "ca-file nowhere.pem"])
def test_bad_line_values_like_haproxy(pki_dir, tmp_path, option):
    (pki_dir / "bad.list").write_text(f"default.pem\nexact.pem [{option}]\n")
    cfg = tmp_path / "h.cfg"
    cfg.write_text(HEAD.format(d=pki_dir, port=free_port(), name="bad.list"))
    alerts = []
    for cmd in ([sys.executable, "-m", "pyhaproxy"], ["/usr/sbin/haproxy"]):
        run = subprocess.run([*cmd, "-c", "-f", str(cfg)], capture_output=True, text=True)
        assert run.returncode == 1
        text = run.stdout + run.stderr
        alerts.append([ln.split(" : ", 2)[-1] for ln in text.splitlines() if "[ALERT]" in ln])
    assert alerts[0] == alerts[1]
