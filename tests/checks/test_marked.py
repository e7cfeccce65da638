"""``on-marked-down shutdown-sessions`` and ``on-marked-up
shutdown-backup-sessions`` through the real process, compared with Debian's
haproxy (configuration.txt §5.2): the sessions on a server marked DOWN, or
on the backup servers when an active one comes UP, end at once, logged
with a ``D`` / ``U`` termination code; without the keyword they go on.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from tests.checks.servers import Target
from tests.checks.test_compat import _normalize
from tests.checks.test_logs import _collect
from tests.dataplane.conftest import read_log
from tests.dataplane.servers import free_port

CFG = """
global
    # one thread: with several, haproxy's killed streams may end on another
    # thread before the DOWN message counts them (0 or 1 "sessions active")
    nbthread 1
    log {log} local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend probe
    # the port the launcher waits for: its connections carry no session
    bind 127.0.0.1:{probe}
listen down
    bind 127.0.0.1:{fe_down}
    server s1 127.0.0.1:{hold} check port {chk_down} inter 150 rise 1 fall 1 on-marked-down shutdown-sessions
listen keep
    bind 127.0.0.1:{fe_keep}
    server s1 127.0.0.1:{hold} check port {chk_down} inter 150 rise 1 fall 1
listen up
    bind 127.0.0.1:{fe_up}
    server a1 127.0.0.1:{hold} check port {chk_up} inter 150 rise 1 fall 1 on-marked-up shutdown-backup-sessions
    server b1 127.0.0.1:{hold} backup
"""


def _open(port: int) -> socket.socket:
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(b"hello")
    return c


def _closed(c: socket.socket) -> bool:
    """The proxy ended this session (EOF or reset) within a second."""
    c.settimeout(1.0)
    try:
        return c.recv(100) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _scenario(start, targets: dict[str, Target]) -> tuple[str, dict[str, bool], list[str]]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    fes = {name: free_port() for name in ("down", "keep", "up")}
    probe = free_port()
    targets["chk_down"].set("reply", b"")
    targets["chk_up"].set("refuse")
    cfg = CFG.format(
        log=f"127.0.0.1:{rx.getsockname()[1]}",
        hold=targets["hold"].port,
        chk_down=targets["chk_down"].port,
        chk_up=targets["chk_up"].port,
        fe_down=fes["down"],
        fe_keep=fes["keep"],
        fe_up=fes["up"],
        probe=probe,
    )
    proc = start(cfg, wait=probe)
    try:
        time.sleep(0.6)  # a1 DOWN: its check port refuses
        conns = {name: _open(port) for name, port in fes.items()}
        time.sleep(0.3)
        targets["chk_down"].set("refuse")  # down/s1 and keep/s1 go DOWN
        targets["chk_up"].set("reply", b"")  # up/a1 comes UP
        closed = {name: _closed(c) for name, c in conns.items()}
        for c in conns.values():
            c.close()
        lines = _collect(rx, 0.5)
    finally:
        proc.terminate()
        proc.wait(5)
        rx.close()
    return read_log(proc), closed, lines


def _term(lines: list[str], fe: str) -> list[str]:
    """The termination states (%ts) of the tcplog lines of frontend ``fe``."""
    out = []
    for line in lines:
        m = re.search(rf" {fe} \S+ \S+ \d+ (\S\S) ", line)
        if m:
            out.append(m.group(1))
    return out


def test_shutdown_sessions_match_haproxy(launcher) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    targets = {"hold": Target(mode="hang"), "chk_down": Target(b""), "chk_up": Target(b"")}
    try:
        mine = _scenario(launcher.start, targets)
        theirs = _scenario(launcher.haproxy, targets)
    finally:
        for t in targets.values():
            t.close()
    assert theirs[1] == {"down": True, "keep": False, "up": True}
    assert mine[1] == theirs[1]
    # per server; the two backends' alerts come in the order of their checks
    assert {k: sorted(v) for k, v in _normalize(mine[0]).items()} == {
        k: sorted(v) for k, v in _normalize(theirs[0]).items()
    }
    # killed sessions: D (server down) and U (server up), second character
    # "-" as HAProxy 2.6 logs them in TCP
    assert _term(theirs[2], "down") == ["D-"] and _term(theirs[2], "up") == ["U-"]
    assert _term(mine[2], "down") == _term(theirs[2], "down")
    assert _term(mine[2], "up") == _term(theirs[2], "up")
    # the session left alone ends when the client closes: CD
    assert _term(mine[2], "keep") == _term(theirs[2], "keep")
