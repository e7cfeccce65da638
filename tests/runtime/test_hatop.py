"""Debian's ``hatop`` (curses) driven in tmux against pyhaproxy's stats
socket: it lists the servers, and F10 on a server puts it in maintenance."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.dataplane.servers import free_port
from tests.runtime.client import cli, wait_socket

CFG = """
global
    stats socket {d}/admin.sock level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{s1} weight 10
    server s2 127.0.0.1:{s2}
"""


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], capture_output=True, text=True, timeout=10, check=False
    ).stdout


def test_hatop_lists_and_disables(launcher, tmp_path, http_servers):
    if shutil.which("hatop") is None or shutil.which("tmux") is None:
        pytest.skip("hatop or tmux is not installed")
    s1, s2 = (s.port for s in http_servers)
    port = free_port()
    launcher.start(CFG.format(d=tmp_path, port=port, s1=s1, s2=s2), wait=port)
    sock = str(tmp_path / "admin.sock")
    wait_socket(sock)
    session = f"hatop{os.getpid()}{port}"
    _tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", f"hatop -s {sock}")
    try:
        screen = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and ">>> be" not in screen:
            time.sleep(0.3)
            screen = _tmux("capture-pane", "-t", session, "-p")
        assert "HAProxy Version: 2.6.12" in screen
        rows = {line.split()[0]: line.split() for line in screen.splitlines() if line.strip()}
        assert rows["s1"][1] == "10" and rows["s2"][1] == "1"
        # move the selection (reverse video) onto s2, then F10: disable here
        for _ in range(30):
            marked = [
                line
                for line in _tmux("capture-pane", "-t", session, "-p", "-e").splitlines()
                if "\x1b[7m" in line
            ]
            if marked and marked[0].split("\x1b[7m", 1)[1].startswith("s2 "):
                break
            _tmux("send-keys", "-t", session, "Down")
            time.sleep(0.2)
        else:
            pytest.fail("hatop never selected s2")
        _tmux("send-keys", "-t", session, "F10")
        state = ""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "MAINT" not in state:
            time.sleep(0.3)
            state = cli(sock, "show stat be 4 2")
        assert ",MAINT," in state
    finally:
        _tmux("kill-session", "-t", session)
