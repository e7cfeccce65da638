"""Logging keywords through `pyhaproxy -c` and a real start."""

from __future__ import annotations

from tests.helpers import run_pyhaproxy

HEAD = """
global
    log 127.0.0.1:514 local0
    log /dev/log len 2048 format rfc5424 sample 1-2:3 local1 info notice
    log stdout format raw daemon
    log-send-hostname lb1
    log-tag edge
defaults
    mode http
    log global
    timeout client 1s
    timeout server 1s
    timeout connect 1s
"""


def check(tmp_path, body: str):
    cfg = tmp_path / "h.cfg"
    cfg.write_text(HEAD + body)
    return run_pyhaproxy("-c", "-f", str(cfg))


def test_logging_keywords_are_valid(tmp_path):
    res = check(
        tmp_path,
        """
frontend fe
    bind 127.0.0.1:8080
    option httplog clf
    option dontlognull
    option dontlog-normal
    option log-separate-errors
    log-tag fe
    capture request header Host len 20
    capture response header Server len 20
    unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
    log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ID %{+Q}r"
    log-format-sd [exampleSDID@1234\\ bytes=\\"%B\\"]
    no log
    log 127.0.0.1:515 format short local2
    default_backend be
backend be
    server s1 127.0.0.1:8000
""",
    )
    assert res.returncode == 0, res.stderr
    assert "not implemented" not in res.stderr


def test_bad_log_format_points_at_line(tmp_path):
    res = check(tmp_path, 'frontend fe\n    bind :8080\n    log-format "%ci %zz"\n')
    assert res.returncode == 1
    assert "h.cfg:16]: failed to parse log-format : no such format variable 'zz'" in (res.stderr)


def test_bad_capture(tmp_path):
    res = check(tmp_path, "frontend fe\n    bind :8080\n    capture request header Host\n")
    assert res.returncode == 1
    assert "'capture request header' expects <header> 'len' <len>." in res.stderr


def test_ring_target_is_refused_at_start(tmp_path):
    cfg = tmp_path / "h.cfg"
    cfg.write_text(HEAD + "frontend fe\n    bind 127.0.0.1:18080\n    log ring@buf local0\n")
    res = run_pyhaproxy("-f", str(cfg), "-db", timeout=20)
    assert res.returncode == 1
    assert "'log ring@' is not implemented yet" in res.stderr
