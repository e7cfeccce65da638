"""Hitless reload of the master-worker mode (management.txt §4): wrk runs
through a 2-worker master while it reloads three times; no request fails."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from tests.dataplane.servers import free_port
from tests.master.conftest import TIMEOUTS, alive, answer_cfg, cli, get, wait_for, worker_pids


def proxy_cfg(port: int, server_port: int, a: int, b: int) -> str:
    return f"""global
    nbthread 2
    hard-stop-after 20s
{TIMEOUTS}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    server s1 127.0.0.1:{server_port}

frontend srv_a
    bind 127.0.0.1:{a}
    http-request return status 200 content-type text/plain string A

frontend srv_b
    bind 127.0.0.1:{b}
    http-request return status 200 content-type text/plain string B
"""


def wrk_errors(out: str) -> tuple[int, int]:
    """(requests, failed) from wrk's report."""
    total = int(re.search(r"(\d+) requests in", out).group(1))
    failed = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        failed += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        failed += int(m.group(1))
    return total, failed


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")
def test_three_reloads_under_wrk_fail_nothing(master, port):
    a, b = free_port(), free_port()
    master.start(proxy_cfg(port, a, a, b), wait=port)
    assert get(port) == (200, b"A")
    first, _ = worker_pids(master.sock)
    assert len(first) == 2
    wrk = subprocess.Popen(
        ["wrk", "-t2", "-c20", "-d6s", "--timeout", "5s", f"http://127.0.0.1:{port}/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(1.0)
        assert master.reload().startswith("Success=1")
        time.sleep(1.0)
        assert master.reload(proxy_cfg(port, b, a, b)).startswith("Success=1")  # new backend
        time.sleep(1.0)
        assert master.reload().startswith("Success=1")
        out, _ = wrk.communicate(timeout=40)
    finally:
        if wrk.poll() is None:
            wrk.kill()
    total, failed = wrk_errors(out)
    assert total > 100, out
    assert failed == 0, out
    assert get(port) == (200, b"B")  # the new configuration answers
    current, _ = worker_pids(master.sock)
    assert len(current) == 2 and not set(current) & set(first)
    wait_for(lambda: not any(alive(p) for p in first), what="old workers exit")
    wait_for(lambda: worker_pids(master.sock)[1] == [], what="no old workers")
    assert master.text().count("Loading success.") == 4


def test_broken_reload_keeps_old_workers(master, port):
    master.start(answer_cfg(port, "old"), wait=port)
    before, _ = worker_pids(master.sock)
    answer = master.reload(answer_cfg(port, "new") + "    bogus-keyword\n")
    assert answer.startswith("Success=0\n--\n")
    assert "unknown keyword 'bogus-keyword'" in answer
    assert "Loading failure!" in answer
    assert get(port) == (200, b"old")
    assert worker_pids(master.sock)[0] == before
    assert all(alive(p) for p in before)
    log = master.text()
    assert "unknown keyword 'bogus-keyword'" in log and "Loading failure!" in log
    assert "0 [failed: 0]" not in cli(master.sock, "show proc")
    assert "1 [failed: 1]" in cli(master.sock, "show proc")
    # a good configuration afterwards is taken
    assert master.reload(answer_cfg(port, "new")).startswith("Success=1")
    assert get(port) == (200, b"new")


def test_reload_by_sigusr2_opens_and_closes_listeners(master, port):
    import signal

    other = free_port()
    master.start(answer_cfg(port, "one"), wait=port)
    cfg2 = answer_cfg(other, "two")
    master.cfg.write_text(cfg2)
    master.proc.send_signal(signal.SIGUSR2)
    wait_for(lambda: master.text().count("Loading success.") == 2, what="reload")
    assert get(other) == (200, b"two")
    wait_for(lambda: worker_pids(master.sock)[1] == [], what="old workers exit")

    def closed() -> bool:
        try:
            get(port, timeout=1)
        except OSError:
            return True
        return False

    wait_for(closed, what="the removed listener closes")


def established_owners(port: int) -> list[str]:
    """The pids owning the server side of the established connections to ``port``."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    return re.findall(r"pid=(\d+)", out)


def burst(port: int, n: int) -> list:
    """``n`` connections opened at once, each served one request and kept."""
    import socket

    conns = []
    try:
        for _ in range(n):
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        for s in conns:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in conns:
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
    except BaseException:
        for s in conns:
            s.close()
        raise
    return conns


@pytest.mark.skipif(not shutil.which("ss"), reason="ss (iproute2) is not installed")
def test_workers_share_connections(master, port):
    """Each worker accepts on its own SO_REUSEPORT socket of the address
    (master/sockets.py): the kernel spreads a burst of connections evenly
    over them, as HAProxy's threads share them."""
    master.start(answer_cfg(port, "x"), wait=port)
    current, _ = worker_pids(master.sock)
    assert len(current) == 2
    for _round in range(4):  # each round alone is fair (by hash: 30-70 is ~4 sigma)
        conns = burst(port, 100)
        try:
            owners = established_owners(port)
        finally:
            for s in conns:
                s.close()
        counts = {pid: owners.count(str(pid)) for pid in current}
        assert sum(counts.values()) == 100, (counts, owners)
        assert all(30 <= n <= 70 for n in counts.values()), counts
        wait_for(lambda: not established_owners(port), what="connections closed")


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")
def test_nbthread_down_and_up_under_wrk_fails_nothing(master, port):
    """nbthread 2 -> 1 -> 2 under load: the slot socket of the worker that
    goes away stays open (served by the remaining one), none is reset."""
    master.start(answer_cfg(port, "two"), wait=port)
    wrk = subprocess.Popen(
        ["wrk", "-t2", "-c20", "-d5s", "--timeout", "5s", f"http://127.0.0.1:{port}/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(1.0)
        assert master.reload(answer_cfg(port, "one", nbthread=1)).startswith("Success=1")
        wait_for(lambda: len(worker_pids(master.sock)[0]) == 1, what="one worker")
        # the remaining worker serves both slot sockets: no connection waits
        for _ in range(20):
            assert get(port, timeout=3) == (200, b"one")
        time.sleep(1.0)
        assert master.reload(answer_cfg(port, "again", nbthread=2)).startswith("Success=1")
        out, _ = wrk.communicate(timeout=40)
    finally:
        if wrk.poll() is None:
            wrk.kill()
    total, failed = wrk_errors(out)
    assert total > 100, out
    assert failed == 0, out
    assert get(port) == (200, b"again")
    wait_for(lambda: worker_pids(master.sock)[1] == [], what="old workers exit")
    assert len(worker_pids(master.sock)[0]) == 2
