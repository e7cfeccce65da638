"""``tune.ssl.default-dh-param`` (configuration.txt §3.2): DHE ciphers only
with DH parameters, their size from the RSA key capped by the setting;
compared with Debian's haproxy through ``openssl s_client``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pyhaproxy.tls.certs import load_file
from pyhaproxy.tls.context import dh_size
from tests.dataplane.conftest import HAPROXY
from tests.dataplane.servers import free_port
from tests.helpers import run_pyhaproxy
from tests.tls.pki import Pki
from tests.tls.tlsutil import s_client

CFG = """global
    crt-base {d}
{glob}
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend f
    bind 127.0.0.1:{port} ssl crt {crt}
    http-request return status 200 content-type text/plain string ok
"""
DHE = ("-cipher", "DHE-RSA-AES128-GCM-SHA256", "-tls1_2")


@pytest.fixture(scope="module")
def rsa_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RSA certificates (DHE-RSA needs one): 2048 and 3072 bits, and a
    2048-bit one whose file carries its own 3072-bit DH parameters."""
    root = tmp_path_factory.mktemp("rsa")
    pki = Pki(root)
    pki.write("rsa2048.pem", pki.issue("rsa2048.test", rsa_bits=2048).pem)
    pki.write("rsa3072.pem", pki.issue("rsa3072.test", rsa_bits=3072).pem)
    if shutil.which("openssl"):
        params = subprocess.run(
            ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe3072"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        pki.write("rsadh.pem", (root / "rsa2048.pem").read_bytes() + params)
        ffdhe2048 = subprocess.run(
            ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        pki.write("dh2048.pem", ffdhe2048)
    return root


def _temp_keys(launcher, d: Path, crt: str, glob: str) -> list[str | None]:
    """The server temp key s_client sees from pyhaproxy, then haproxy."""
    out = []
    for start in (launcher.start, launcher.haproxy):
        port = free_port()
        start(CFG.format(d=d, port=port, crt=crt, glob=glob), wait=port)
        seen = s_client(port, *DHE)
        out.append(seen.temp_key if seen.ok else None)
    return out


@pytest.mark.parametrize(
    "crt, param, expect",
    [
        ("rsa2048.pem", None, None),  # no DH parameters: no DHE cipher
        ("rsa2048.pem", 2048, "DH, 2048 bits"),
        ("rsa2048.pem", 4096, "DH, 2048 bits"),  # the key's size
        ("rsa3072.pem", 3000, "DH, 2048 bits"),  # capped, then 2048
        ("rsa3072.pem", 4096, "DH, 2048 bits"),  # 3072 rounds down to 2048
        ("rsadh.pem", None, "DH, 3072 bits"),  # the file's own parameters
        ("rsadh.pem", 4096, "DH, 3072 bits"),
    ],
)
def test_dhe_like_haproxy(launcher, rsa_dir, crt, param, expect):
    if crt == "rsadh.pem" and not (rsa_dir / crt).exists():
        pytest.skip("openssl missing")
    glob = f"    tune.ssl.default-dh-param {param}" if param else ""
    assert _temp_keys(launcher, rsa_dir, crt, glob) == [expect, expect]


@pytest.mark.parametrize(
    "crt, param, expect",
    [
        ("rsa2048.pem", None, "DH, 2048 bits"),  # the file's parameters
        ("rsa3072.pem", 4096, "DH, 2048 bits"),  # before the predefined ones
        ("rsadh.pem", None, "DH, 3072 bits"),  # the certificate's own win
    ],
)
def test_dh_param_file_like_haproxy(launcher, rsa_dir, crt, param, expect):
    """``ssl-dh-param-file``: used for certificates without their own DH
    parameters, before ``tune.ssl.default-dh-param``."""
    if not (rsa_dir / "dh2048.pem").exists():
        pytest.skip("openssl missing")
    glob = f"    ssl-dh-param-file {rsa_dir / 'dh2048.pem'}"
    if param:
        glob += f"\n    tune.ssl.default-dh-param {param}"
    assert _temp_keys(launcher, rsa_dir, crt, glob) == [expect, expect]


@pytest.mark.parametrize("value", ["", "missing.pem", "rsa2048.pem", "dh2048.pem"])
def test_dh_param_file_check_like_haproxy(tmp_path, rsa_dir, value):
    """``-c``: a file without DH parameters (or none) is fatal, with
    HAProxy's words."""
    cfg = tmp_path / "dh.cfg"
    glob = f"    ssl-dh-param-file {rsa_dir / value if value else ''}"
    cfg.write_text(CFG.format(d=rsa_dir, port=free_port(), crt="rsa2048.pem", glob=glob))
    ours = run_pyhaproxy("-c", "-f", str(cfg))
    if Path(HAPROXY).exists():
        ref = subprocess.run(
            [HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30
        )
        assert (ours.returncode, _lines(ours)) == (ref.returncode, _lines(ref))
    joined = "\n".join(_lines(ours))
    if value == "":
        assert ours.returncode == 1 and "expects a file path as an argument." in joined
    elif value == "dh2048.pem":
        assert ours.returncode == 0
    else:
        assert ours.returncode == 1 and "unable to load DH parameters from file <" in joined


def test_default_certificate_keeps_ecdhe(launcher, rsa_dir):
    """The setting adds DHE; ECDHE stays preferred for clients offering both."""
    port = free_port()
    glob = "    tune.ssl.default-dh-param 2048"
    launcher.start(CFG.format(d=rsa_dir, port=port, crt="rsa2048.pem", glob=glob), wait=port)
    seen = s_client(port, "-tls1_2")
    assert seen.ok and seen.cipher.startswith("ECDHE-RSA-")


def _lines(run: subprocess.CompletedProcess) -> list[str]:
    """The messages without their ``[LEVEL] (pid)`` prefix nor notices."""
    out = (run.stdout + run.stderr).splitlines()
    return [line.split(" : ", 1)[-1] for line in out if "[NOTICE]" not in line]


@pytest.mark.parametrize("value", ["1024", "512", "abc", "", "2048x"])
def test_check_like_haproxy(tmp_path, rsa_dir, value):
    """``-c``: values below 1024 are fatal; 1024 warns per certificate that
    OpenSSL refuses such parameters (default security level)."""
    cfg = tmp_path / "dh.cfg"
    glob = f"    tune.ssl.default-dh-param {value}"
    cfg.write_text(CFG.format(d=rsa_dir, port=free_port(), crt="rsa2048.pem", glob=glob))
    ours = run_pyhaproxy("-c", "-f", str(cfg))
    ours_lines = _lines(ours)
    if Path(HAPROXY).exists():
        ref = subprocess.run(
            [HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30
        )
        assert (ours.returncode, ours_lines) == (ref.returncode, _lines(ref))
    joined = "\n".join(ours_lines)
    if value in ("512", "abc"):
        assert ours.returncode == 1 and "expects a value >= 1024." in joined
    elif value == "":
        assert ours.returncode == 1 and "expects an integer argument." in joined
    elif value == "1024":
        assert "unable to load default 1024 bits DH parameter" in joined
    else:
        assert ours.returncode == 0


def test_dh_size(pki_dir):
    """HAProxy's ``ssl_get_tmp_dh``: an EC key takes the setting itself."""
    ec = load_file(str(pki_dir / "default.pem"))
    assert [dh_size(ec, p) for p in (1024, 2048, 3000, 4096, 8192)] == [
        1024,
        2048,
        2048,
        4096,
        4096,
    ]
