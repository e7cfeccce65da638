"""Checks in master-worker mode: once per server, not once per worker.

DESIGN.md "Process model": health checks run once (control plane) and their
results reach every worker.  With ``nbthread 2`` pyhaproxy forks two
workers; haproxy runs one process with two threads and checks once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.checks.servers import Target
from tests.dataplane.conftest import read_log
from tests.dataplane.servers import free_port

CFG = """
global
    nbthread 2
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
    option httpchk GET /chk
    server s1 127.0.0.1:{srv} check inter 200 rise 1 fall 1
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""


def test_checks_run_once_with_two_workers(launcher) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    counts, downs = [], []
    for exe in ([sys.executable, "-m", "pyhaproxy", "-W"], ["/usr/sbin/haproxy", "-W"]):
        srv = Target(Target.http(200, b"ok"))
        try:
            fe = free_port()
            proc = launcher.start(CFG.format(srv=srv.port, fe=fe), wait=fe, exe=exe)
            time.sleep(0.5)
            start = len(srv.seen)
            time.sleep(2.0)
            counts.append(len(srv.seen) - start)
            srv.set("refuse")
            time.sleep(0.8)
        finally:
            srv.close()
        proc.terminate()
        proc.wait(10)
        downs.append(read_log(proc).count("Server be/s1 is DOWN"))
    mine, theirs = counts
    assert theirs >= 5  # one check every 200 ms
    assert mine <= theirs * 1.3, counts
    assert downs == [1, 1], downs
