"""systemd integration: the notify protocol (sd_notify(3)) against a fake
``NOTIFY_SOCKET``, and the unit file (``systemd-analyze verify``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess

import pytest

from tests.dataplane.conftest import ROOT
from tests.master.conftest import answer_cfg, get


def _messages(sock: socket.socket, until: str, timeout: float = 20.0) -> list[str]:
    got = []
    sock.settimeout(timeout)
    while True:
        msg = sock.recv(4096).decode()
        got.append(msg)
        if until in msg:
            return got


def test_notify_ready_reloading_stopping(master, port, tmp_path):
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        proc = master.start(answer_cfg(port, "one"), args=("-Ws", "-db"), env=env)
        ready = _messages(sock, "READY=1")
        assert f"MAINPID={proc.pid}" in ready[-1]
        assert get(port) == (200, b"one")
        assert master.reload(answer_cfg(port, "two")).startswith("Success=1")
        after = _messages(sock, "READY=1")
        assert after[0].startswith("RELOADING=1")
        assert get(port) == (200, b"two")
        proc.send_signal(signal.SIGTERM)
        assert _messages(sock, "STOPPING=1")[-1].startswith("STOPPING=1")
        assert proc.wait(20) == 0


def test_no_notify_without_ws(master, port, tmp_path):
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        master.start(answer_cfg(port, "one"), wait=port, env=env)  # -W, not -Ws
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(4096)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_unit_verifies(tmp_path):
    unit = (ROOT / "conf" / "pyhaproxy.service").read_text()
    assert "Type=notify" in unit and "-Ws" in unit and "kill -USR2 $MAINPID" in unit
    for line in ("KillMode=mixed", "Restart=always", "SuccessExitStatus=143"):
        assert line in unit
    # the installed path of the command is where `pip install` puts it here
    exe = shutil.which("pyhaproxy") or str(ROOT / ".venv" / "bin" / "pyhaproxy")
    local = tmp_path / "pyhaproxy.service"
    local.write_text(unit.replace("/usr/local/bin/pyhaproxy", exe))
    out = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    problems = [x for x in (out.stdout + out.stderr).splitlines() if "pyhaproxy.service" in x]
    assert not problems, out.stdout + out.stderr


def test_unit_commands_run(tmp_path, port):
    """ExecStartPre / ExecReload's check accepts the unit's EXTRAOPTS."""
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(answer_cfg(port, "x"))
    out = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "pyhaproxy"),
            "-f",
            str(cfg),
            "-c",
            "-q",
            "-S",
            str(tmp_path / "m.sock"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
