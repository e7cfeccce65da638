"""Signals to the master (management.txt §4): hard stops and their exit
statuses compared with Debian's haproxy -W, soft stop under load bounded by
hard-stop-after, a dead worker replaced."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

from tests.dataplane.conftest import HAPROXY
from tests.dataplane.servers import Background, free_port, http_app
from tests.master.conftest import TIMEOUTS, Master, alive, answer_cfg, get, wait_for, worker_pids


def shape(log: str) -> list[str]:
    """The master's lines about workers and exiting, pids masked."""
    keep = ("Exiting Master", "exited with code", "All workers exited")
    lines = [
        re.sub(r"(^\S+\s+|worker )\(\d+\)", r"\1(PID)", x)
        for x in log.splitlines()
        if any(k in x for k in keep)
    ]
    return sorted(set(lines))


@pytest.mark.parametrize(
    "signum,worker,code", [(signal.SIGINT, 130, 130), (signal.SIGTERM, 143, 0)]
)
def test_hard_stop_status_and_messages_as_haproxy(tmp_path, signum, worker, code):
    results = {}
    exes = {"pyhaproxy": None}
    if os.path.exists(HAPROXY):
        exes["haproxy"] = [HAPROXY]
    for name, exe in exes.items():
        port = free_port()
        d = tmp_path / name
        d.mkdir()
        m = Master(d)
        try:
            m.start(answer_cfg(port, "x", nbthread=1), wait=port, exe=exe)
            time.sleep(0.5)  # haproxy's master installs its handlers late
            m.proc.send_signal(signum)
            assert m.proc.wait(20) == code
            results[name] = shape(m.text())
        finally:
            m.stop()
    py = results["pyhaproxy"]
    assert f"[ALERT]    (PID) : Current worker (PID) exited with code {worker} (" in "\n".join(py)
    assert f"[WARNING]  (PID) : All workers exited. Exiting... ({code})" in py
    assert "[WARNING]  (PID) : Exiting Master process..." in py
    if "haproxy" in results:
        assert py == results["haproxy"]


def test_dead_worker_is_replaced(master, port):
    master.start(answer_cfg(port, "x"), wait=port)
    current, _ = worker_pids(master.sock)
    os.kill(current[0], signal.SIGKILL)
    wait_for(lambda: len(set(worker_pids(master.sock)[0]) - set(current)) == 1, what="a new one")
    assert f"Current worker ({current[0]}) exited with code 137 (Killed)" in master.text()
    for _ in range(10):
        assert get(port) == (200, b"x")


def slow_cfg(port: int, server_port: int, hard_stop_after: str = "") -> str:
    hsa = f"    hard-stop-after {hard_stop_after}\n" if hard_stop_after else ""
    return f"""global
    nbthread 2
{hsa}{TIMEOUTS}
listen li
    bind 127.0.0.1:{port}
    server s1 127.0.0.1:{server_port}
"""


def _slow_requests(port: int, path: str, n: int) -> tuple[list[threading.Thread], list]:
    results: list = []

    def one() -> None:
        try:
            results.append(get(port, path, timeout=20))
        except OSError as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, results


def test_soft_stop_finishes_in_flight_requests(master, port):
    server = Background(http_app("a"))
    try:
        master.start(slow_cfg(port, server.port), wait=port)
        threads, results = _slow_requests(port, "/slow/1.5", 6)
        wait_for(lambda: server.stats.requests >= 6, what="requests in flight")
        master.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        with pytest.raises(OSError):  # the master no longer listens: no one accepts
            get(port, timeout=1)
        for t in threads:
            t.join(20)
        assert results == [(200, b"slow done")] * 6
        assert master.proc.wait(20) == 0
        assert "All workers exited. Exiting... (0)" in master.text()
    finally:
        server.close()


def test_hard_stop_after_bounds_soft_stop(master, port):
    server = Background(http_app("a"))
    try:
        master.start(slow_cfg(port, server.port, "1s"), wait=port)
        threads, results = _slow_requests(port, "/slow/30", 2)
        wait_for(lambda: server.stats.requests >= 2, what="requests in flight")
        start = time.monotonic()
        master.proc.send_signal(signal.SIGUSR1)
        assert master.proc.wait(20) == 0
        assert time.monotonic() - start < 10
        for t in threads:
            t.join(20)
        assert all(isinstance(r, OSError) for r in results)
        assert "soft-stop running for too long, performing a hard-stop." in master.text()
    finally:
        server.close()


def test_master_death_stops_workers(master, port):
    master.start(answer_cfg(port, "x"), wait=port)
    current, _ = worker_pids(master.sock)
    master.proc.kill()
    master.proc.wait(10)
    wait_for(lambda: not any(alive(p) for p in current), what="orphan workers exit")
