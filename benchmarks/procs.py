"""What the load test and the benchmark share: loopback ports and the CPU
time and memory of a proxy read from /proc."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 10.0) -> bool:
    """True once ``port`` accepts; False on timeout or when ``proc`` exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _cpu_seconds(pid: int) -> float:
    """utime+stime of the process and its waited-for children (stat 14-17)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


def tree_pids(pid: int) -> list[int]:
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            for child in fh.read().split():
                pids.extend(tree_pids(int(child)))
    except OSError:
        pass
    return pids


def tree_cpu(pid: int) -> float:
    """CPU seconds used by a process and all its descendants."""
    total = 0.0
    for p in tree_pids(pid):
        try:
            total += _cpu_seconds(p)
        except OSError:
            pass
    return total


def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                m = re.search(r"VmRSS:\s+(\d+) kB", fh.read())
                total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total / 1024
