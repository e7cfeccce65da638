"""``-c`` on bad TLS material: the same verdict and alert text as Debian's
haproxy 2.6 (configuration.txt §5.1 "crt", "ca-file", "crl-file", "verify").

Expired, not-yet-valid certificates and broken chains pass ``haproxy -c``
silently; pyhaproxy keeps that verdict and adds a warning."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.helpers import PYHAPROXY

HAPROXY = "/usr/sbin/haproxy"
HEAD = """global
    crt-base {d}
    ca-base {d}
defaults
    mode http
    timeout client 1s
    timeout server 1s
    timeout connect 1s
"""

CASES = {
    "good": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem crt dir crt split.pem",
    "missing": "frontend f\n    bind 127.0.0.1:1 ssl crt missing.pem",
    "nokey": "frontend f\n    bind 127.0.0.1:1 ssl crt nokey.pem",
    "mismatch": "frontend f\n    bind 127.0.0.1:1 ssl crt mismatch.pem",
    "garbage": "frontend f\n    bind 127.0.0.1:1 ssl crt garbage.pem",
    "no crt": "frontend f\n    bind 127.0.0.1:1 ssl",
    "ca missing": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem ca-file nope.pem",
    "ca garbage": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem ca-file garbage.pem",
    "crl garbage": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem ca-file ca.pem "
    "verify required crl-file garbage.pem",
    "verify no ca": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem verify required",
    "verify bad": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem verify maybe",
    "version": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem ssl-min-ver TLSv1.4",
    "ciphers": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem ciphers FOO",
    "ciphersuites": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem ciphersuites FOO",
    "curves": "frontend f\n    bind 127.0.0.1:1 ssl crt default.pem curves FOO",
    "crt-list": "frontend f\n    bind 127.0.0.1:1 ssl crt-list {d}/list.txt",
    "crt-list missing": "frontend f\n    bind 127.0.0.1:1 ssl crt-list list.txt",
    "server no ca": "backend b\n    server s 127.0.0.1:1 ssl",
    "server ca garbage": "backend b\n    server s 127.0.0.1:1 ssl verify required ca-file garbage.pem",
    "server verify none": "backend b\n    server s 127.0.0.1:1 ssl verify none",
    "default options": "global\n    ssl-default-bind-options ssl-min-ver TLSv1.3 foo",
    "expired": "frontend f\n    bind 127.0.0.1:1 ssl crt expired.pem",
    "future": "frontend f\n    bind 127.0.0.1:1 ssl crt future.pem",
    "badchain": "frontend f\n    bind 127.0.0.1:1 ssl crt badchain.pem",
}
WARNED = {"expired", "future", "badchain"}


def _alerts(text: str) -> list[str]:
    return [
        re.sub(r"\(\d+\)", "(PID)", line)
        for line in text.splitlines()
        if line.startswith("[ALERT]")
    ]


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_like_haproxy(pki_dir, tmp_path, case):
    if not os.path.exists(HAPROXY):
        pytest.skip("Debian's haproxy is not installed")
    (pki_dir / "list.txt").write_text(
        "default.pem\nwild.pem [alpn http/1.1] *.wild.test\nbogus.pem\n"
    )
    cfg = tmp_path / "t.cfg"
    cfg.write_text((HEAD + CASES[case] + "\n").format(d=pki_dir))
    ours = subprocess.run([*PYHAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    ref = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert ours.returncode == ref.returncode, ours.stderr
    assert _alerts(ours.stderr + ours.stdout) == _alerts(ref.stderr + ref.stdout)
    if case in WARNED:
        assert "[WARNING]" in ours.stderr and "Configuration file is valid" in ours.stdout
