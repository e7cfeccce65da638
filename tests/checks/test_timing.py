"""Check timing under load (issue: "Check timing stays within one inter of
the configured schedule under load").

60 servers are checked every 300 ms while wrk drives traffic through the
same process; each server's checks go to its own loopback address
(``addr 127.0.0.N``), so one listener tells them apart.  Every gap between
two checks of a server must be at least ``inter`` (the next check starts
one ``inter`` after the previous one ended) and less than two ``inter``.
"""

from __future__ import annotations

import selectors
import shutil
import socket
import subprocess
import threading
import time
from collections import defaultdict

import pytest

from tests.dataplane.servers import Background, free_port, http_app

SERVERS = 60
INTER = 0.3


class Recorder:
    """One thread, one listener on every loopback address: records when a
    check's request arrives, by the address it was sent to."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.seen: dict[str, list[float]] = defaultdict(list)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        while not self._stop:
            for key, _ in sel.select(0.05):
                if key.fileobj is self.sock:
                    try:
                        conn, _ = self.sock.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ)
                    continue
                conn = key.fileobj
                sel.unregister(conn)
                try:
                    if conn.recv(4096):
                        self.seen[conn.getsockname()[0]].append(time.monotonic())
                        conn.send(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass
                conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


def test_check_timing_within_one_inter_under_load(launcher) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    rec = Recorder()
    app = Background(http_app("a"))
    fe = free_port()
    servers = "\n".join(
        f"    server c{i} 127.0.0.1:{rec.port} check inter {int(INTER * 1000)} addr 127.0.0.{i + 2}"
        for i in range(SERVERS)
    )
    cfg = f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend checked
    option httpchk GET /chk
{servers}
backend traffic
    server a 127.0.0.1:{app.port}
frontend fe
    bind 127.0.0.1:{fe}
    default_backend traffic
"""
    try:
        launcher.start(cfg, wait=fe)
        time.sleep(1.0)
        start = time.monotonic()
        wrk = subprocess.run(
            ["wrk", "-t1", "-c20", "-d4s", f"http://127.0.0.1:{fe}/"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        end = time.monotonic()
    finally:
        rec.close()
        app.close()
    assert "Requests/sec" in wrk.stdout, wrk.stdout + wrk.stderr
    assert app.stats.requests > 1000  # the process was busy forwarding
    assert len(rec.seen) == SERVERS
    gaps = []
    for times in rec.seen.values():
        during = [t for t in times if start <= t <= end]
        gaps += [b - a for a, b in zip(during, during[1:], strict=False)]
    assert len(gaps) >= SERVERS * 8
    early = [g for g in gaps if g < INTER * 0.95]
    late = [g for g in gaps if g >= 2 * INTER]
    # the machine running the tests is shared: a rare late start is tolerated
    assert not early and len(late) <= len(gaps) // 100, (early[:5], sorted(gaps)[-5:])
