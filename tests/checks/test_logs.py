"""Check messages on the log targets, compared with Debian's haproxy:
same syslog level (ALERT for DOWN, NOTICE for UP, EMERG for a backend
without servers), same text."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from tests.checks.servers import Target
from tests.dataplane.servers import free_port

CFG = """
global
    log {log} local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
    server s1 127.0.0.1:{srv} check inter 150 rise 1
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""


def _collect(sock: socket.socket, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    lines = []
    sock.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            lines.append(sock.recv(65536).decode())
        except TimeoutError:
            pass
    return lines


def _mask(line: str) -> str:
    line = re.sub(r"^(<\d+>)\w{3} [ \d]\d \d\d:\d\d:\d\d ", r"\1DATE ", line)
    line = re.sub(r"\[\d+\]", "[PID]", line)
    return re.sub(r"check duration: \d+ms", "check duration: Nms", line)


def test_state_changes_reach_log_targets_like_haproxy(launcher) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    out = []
    for start in (launcher.haproxy, launcher.start):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        srv = Target(Target.http(200, b"ok"))
        try:
            fe = free_port()
            log = f"127.0.0.1:{rx.getsockname()[1]}"
            start(CFG.format(log=log, srv=srv.port, fe=fe), wait=fe)
            _collect(rx, 0.3)
            srv.set("refuse")
            lines = _collect(rx, 0.8)
            srv.set("reply")
            lines += _collect(rx, 0.8)
        finally:
            srv.close()
            rx.close()
        out.append([_mask(x) for x in lines])
    theirs, mine = out
    assert mine == theirs
    # local0 (16 * 8) + alert (1) / emerg (0), as Debian's haproxy sends them
    assert any(x.startswith("<129>") and "is DOWN" in x for x in theirs)
    assert any(x.startswith("<128>") and "has no server available!" in x for x in theirs)
