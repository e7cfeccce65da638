"""Check keywords: what ``-c`` accepts, what a start refuses, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dataplane.servers import free_port
from tests.helpers import run_pyhaproxy

BASE = """
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
{lines}
    server s1 127.0.0.1:9 check
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
"""


def _cfg(tmp_path: Path, lines: str) -> str:
    path = tmp_path / "c.cfg"
    path.write_text(BASE.format(lines=lines, port=free_port()))
    return str(path)


@pytest.mark.parametrize(
    "lines",
    [
        "    option httpchk GET /health HTTP/1.1\n    http-check send hdr Host x\n"
        "    http-check expect ! rstatus ^5",
        "    option tcp-check\n    tcp-check comment hello\n    tcp-check connect port 80\n"
        "    tcp-check send-binary 50494e47\n    tcp-check expect min-recv 4 binary 504f4e47",
        "    option redis-check",
        "    option smtpchk EHLO example.com",
        "    option log-health-checks\n    timeout check 2s",
    ],
)
def test_valid_check_configurations(tmp_path: Path, lines: str) -> None:
    out = run_pyhaproxy("-c", "-f", _cfg(tmp_path, lines))
    assert out.returncode == 0, out.stderr
    assert "not implemented" not in out.stderr


@pytest.mark.parametrize(
    "lines,what",
    [
        ("    option tcp-check\n    tcp-check send-lf %[date]", "'tcp-check send-lf'"),
        ("    option httpchk\n    http-check expect hdr name x", "'http-check expect hdr'"),
        ("    option spop-check", "'option spop-check'"),
        ("    default-server minconn 5", "'server minconn'"),
    ],
)
def test_missing_behaviour_refuses_to_start(tmp_path: Path, lines: str, what: str) -> None:
    path = _cfg(tmp_path, lines)
    assert run_pyhaproxy("-c", "-f", path).returncode == 0
    out = run_pyhaproxy("-f", path, "-db", timeout=10)
    assert out.returncode == 1
    assert f"{what} is not implemented yet by pyhaproxy" in out.stderr


@pytest.mark.parametrize(
    "lines,words",
    [
        ("    tcp-check bogus", "'tcp-check' expects 'comment', 'connect'"),
        ("    tcp-check expect", "expects a pattern match"),
        ("    tcp-check expect rstring (", "invalid regex"),
        ("    http-check expect status 2xx", "invalid HTTP status code range"),
    ],
)
def test_syntax_errors_point_at_the_line(tmp_path: Path, lines: str, words: str) -> None:
    out = run_pyhaproxy("-c", "-f", _cfg(tmp_path, lines))
    assert out.returncode == 1
    assert words in out.stderr
    assert "c.cfg:8]" in out.stderr


def test_mysql_check_with_user_refuses_to_start(tmp_path: Path) -> None:
    out = run_pyhaproxy(
        "-f", _cfg(tmp_path, "    option mysql-check user haproxy"), "-db", timeout=10
    )
    assert out.returncode == 1
    assert "'option mysql-check user <name>' is not implemented yet by pyhaproxy" in out.stderr


def _c_output(exe: list[str], path: str) -> tuple[int, list[str]]:
    import subprocess

    r = subprocess.run([*exe, "-c", "-f", path], capture_output=True, text=True, timeout=30)
    lines = (r.stdout + r.stderr).splitlines()
    # without the PID and the NOTICE lines naming the program
    words = [x.split(") : ", 1)[-1] for x in lines if not x.startswith("[NOTICE]")]
    return r.returncode, words


@pytest.mark.parametrize(
    "options",
    [
        "observe foo",
        "observe",
        "error-limit x",
        "error-limit 0",
        "error-limit",
        "on-error bad",
        "on-error",
        "on-marked-down bad",
        "on-marked-up shutdown-sessions",
        "slowstart abc",
        "slowstart 10x",
        "slowstart -5",
        "slowstart",
        "slowstart 1m5s",
        "observe layer4 error-limit 3 on-error sudden-death slowstart 2s "
        "on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions",
    ],
)
def test_observe_slowstart_arguments_like_haproxy(tmp_path: Path, options: str) -> None:
    """Bad arguments get HAProxy's alert with file:line (``haproxy -c``)."""
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    import sys

    path = _cfg(tmp_path, "")
    text = (
        Path(path)
        .read_text()
        .replace("server s1 127.0.0.1:9 check", f"server s1 127.0.0.1:9 check {options}")
    )
    Path(path).write_text(text)
    mine = _c_output([sys.executable, "-m", "pyhaproxy"], path)
    theirs = _c_output(["/usr/sbin/haproxy"], path)
    assert mine == theirs
    if theirs[0]:
        assert any("c.cfg:9] : 'server be/s1' : " in x for x in theirs[1])
