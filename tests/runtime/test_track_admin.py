"""Maintenance and drain along ``track`` chains, beside Debian's haproxy.

A server that tracks another inherits its maintenance and its drain
(``srv_admin_state`` bits IMAINT 0x2, IDRAIN 0x10, ``show stat`` status
``MAINT (via be/s1)``), in chains, and tells each change in HAProxy 2.6's
words; the same commands, with the tracked server's check failing and
recovering in between, give the same states and the same messages.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.checks.servers import Target
from tests.dataplane.conftest import read_log
from tests.dataplane.servers import Background, free_port, http_app
from tests.runtime.client import cli, wait_socket

CFG = """
global
    stats socket {d}/admin.sock level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
    server s1 127.0.0.1:{web} check inter 200 port {chk} fall 1 rise 1{extra}
    server s2 127.0.0.1:{web} track s1
    server s3 127.0.0.1:{web} track s2
    server s4 127.0.0.1:{web} track s1 disabled
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""

ADMIN_ONLY = [
    "disable server be/s1",
    "set server be/s1 state drain",
    "set server be/s1 state ready",
    "disable server be/s2",
    "disable server be/s1",
    "enable server be/s2",
    "enable server be/s1",
    "set server be/s2 state drain",
    "set server be/s1 state drain",
    "set server be/s1 state ready",
    "set server be/s2 state ready",
    "enable server be/s4",
    "set server be/s1 state maint",
    "set server be/s3 state drain",
    "set server be/s1 state ready",
    "set server be/s3 state ready",
]
WITH_CHECKS = [
    "disable server be/s2",
    "check DOWN",
    "enable server be/s2",
    "disable server be/s3",
    "check UP",
    "enable server be/s3",
    "set server be/s2 state drain",
    "check DOWN",
    "set server be/s2 state ready",
    "disable server be/s1",
    "check UP",
    "enable server be/s1",
    "set server be/s1 state drain",
    "check DOWN",
    "check UP",
    "set server be/s1 state ready",
]


def _states(sock: str) -> str:
    """op/admin from ``show servers state`` and ``show stat``'s status (its
    health counter, which moves with the check's timing, left out)."""
    rows = [ln.split() for ln in cli(sock, "show servers state be").splitlines()[2:] if ln]
    status = {}
    for line in cli(sock, "show stat").splitlines():
        f = line.split(",")
        if f[0] == "be" and f[1].startswith("s"):
            status[f[1]] = re.sub(r" \d+/\d+$", "", f[17])
    return " ".join(f"{r[3]}:{r[5]}/{r[6]}/{status[r[3]]}" for r in rows)


def _s1_is(sock: str, word: str) -> bool:
    return _states(sock).split()[0].split("/")[2].startswith(word)


def _messages(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        m = re.match(r"\[(?:WARNING|ALERT)\]\s+\(\d+\) : (.*)$", line)
        if m:
            out.append(re.sub(r"check duration: \d+ms", "check duration: Nms", m.group(1)))
    return out


# s1 "disabled" in the configuration: its trackers start in maintenance
FROM_CONFIG = [
    "enable server be/s1",
    "disable server be/s1",
    "set server be/s1 state drain",
    "set server be/s1 state ready",
]


@pytest.mark.parametrize(
    ("script", "extra"),
    [(ADMIN_ONLY, ""), (WITH_CHECKS, ""), (FROM_CONFIG, " disabled")],
    ids=["admin", "checks", "disabled"],
)
def test_track_chain_inherits_maint_and_drain(launcher, tmp_path: Path, script, extra) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    web = Background(http_app("web"))
    chk = Target(b"", mode="reply")
    procs, socks = [], []
    try:
        for name in ("haproxy", "py"):
            d = tmp_path / name
            d.mkdir()
            fe = free_port()
            text = CFG.format(d=d, web=web.port, chk=chk.port, fe=fe, extra=extra)
            start = launcher.haproxy if name == "haproxy" else launcher.start
            procs.append(start(text, wait=fe))
            socks.append(str(d / "admin.sock"))
            wait_socket(socks[-1])
        deadline = time.monotonic() + 10
        first = "MAINT" if extra else "UP"
        while not all(_s1_is(s, first) for s in socks) and time.monotonic() < deadline:
            time.sleep(0.05)
        steps = [("start", [_states(s) for s in socks])]
        for cmd in script:
            if cmd.startswith("check "):
                word = cmd.split()[1]
                chk.set("refuse" if word == "DOWN" else "reply")
                deadline = time.monotonic() + 10
                while not all(_s1_is(s, word) for s in socks) and time.monotonic() < deadline:
                    time.sleep(0.05)
            else:
                for s in socks:
                    assert cli(s, cmd) == "\n", cmd
            steps.append((cmd, [_states(s) for s in socks]))
        for cmd, (theirs, mine) in steps:
            assert mine == theirs, cmd
        for proc in procs:
            proc.terminate()
            proc.wait(5)
    finally:
        chk.close()
        web.close()
    theirs, mine = _messages(read_log(procs[0])), _messages(read_log(procs[1]))
    assert mine == theirs
    joined = "\n".join(theirs)
    assert "maintenance via be/s1" in joined
    assert "remains in forced maintenance" in joined or "remains in drain mode" in joined
