"""``tcp-request content`` rules where pyhaproxy does not run them yet:
refused loudly at start, with the line (the TCP mode ones are compared
with haproxy in tests/lb/test_rdp_cookie.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.dataplane.servers import free_port

BASE = "defaults\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n"


def start(tmp_path, text: str) -> tuple[subprocess.CompletedProcess, str]:
    cfg = tmp_path / "c.cfg"
    cfg.write_text(BASE + text)
    run = [sys.executable, "-m", "pyhaproxy", "-f", str(cfg), "-db"]
    return subprocess.run(run, capture_output=True, text=True, timeout=30), str(cfg)


@pytest.mark.parametrize("mode_first", [True, False])
def test_content_rules_in_an_http_frontend_are_refused(tmp_path, mode_first):
    mode = "  mode http\n"
    out, cfg = start(
        tmp_path,
        f"frontend f\n{mode if mode_first else ''}  bind 127.0.0.1:{free_port()}\n"
        "  tcp-request inspect-delay 1s\n  tcp-request content accept if { req.len gt 0 }\n"
        f"{'' if mode_first else mode}  default_backend b\n"
        "backend b\n  mode http\n  server s 127.0.0.1:1\n",
    )
    assert out.returncode == 1
    line = 9 if mode_first else 8  # the content rule
    assert f"[{cfg}:{line}]" in out.stderr and "not implemented yet" in out.stderr


@pytest.mark.parametrize(
    "line",
    [
        "tcp-request connection reject if { src 10.0.0.1 }",
        "tcp-request content set-var(sess.x) req.len",
        "tcp-request content capture req.len len 10",
    ],
)
def test_other_tcp_request_rules_are_refused(tmp_path, line):
    out, cfg = start(
        tmp_path,
        f"frontend f\n  mode tcp\n  bind 127.0.0.1:{free_port()}\n  {line}\n"
        "  default_backend b\nbackend b\n  mode tcp\n  server s 127.0.0.1:1\n",
    )
    assert out.returncode == 1
    assert f"[{cfg}:8]" in out.stderr and "is not implemented yet by pyhaproxy" in out.stderr


def test_content_rules_in_a_backend_are_refused(tmp_path):
    out, cfg = start(
        tmp_path,
        f"frontend f\n  mode tcp\n  bind 127.0.0.1:{free_port()}\n  default_backend b\n"
        "backend b\n  mode tcp\n  tcp-request content reject\n  server s 127.0.0.1:1\n",
    )
    assert out.returncode == 1
    assert f"[{cfg}:11]" in out.stderr and "not implemented yet" in out.stderr
