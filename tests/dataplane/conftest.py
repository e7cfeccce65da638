"""Fixtures starting the real `pyhaproxy -f cfg -db` process on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dataplane.servers import Background, free_port, http_app

ROOT = Path(__file__).resolve().parents[2]
HAPROXY = "/usr/sbin/haproxy"


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {read_log(proc)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} not listening")


def read_log(proc: subprocess.Popen) -> str:
    path = getattr(proc, "log_path", None)
    return Path(path).read_text() if path else ""


class Launcher:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(
        self,
        cfg: str,
        wait: int | list[int] | None = None,
        exe: list[str] | None = None,
        ignore_signals: bool = False,
        name: str = "pyhaproxy",
    ) -> subprocess.Popen:
        path = self.tmp / f"{name}-{len(self.procs)}.cfg"
        path.write_text(cfg)
        log = self.tmp / f"{name}-{len(self.procs)}.log"

        def preexec() -> None:
            if ignore_signals:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.signal(signal.SIGINT, signal.SIG_IGN)

        cmd = [*(exe or [sys.executable, "-m", "pyhaproxy"]), "-f", str(path), "-db"]
        with open(log, "w") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, preexec_fn=preexec
            )
        proc.log_path = log  # type: ignore[attr-defined]
        self.procs.append(proc)
        for port in [wait] if isinstance(wait, int) else wait or []:
            wait_port(port, proc)
        return proc

    def haproxy(self, cfg: str, wait: int | list[int] | None = None) -> subprocess.Popen:
        if not os.path.exists(HAPROXY):
            pytest.skip("Debian's haproxy is not installed")
        return self.start(cfg, wait, exe=[HAPROXY], name="haproxy")

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)


@pytest.fixture
def launcher(tmp_path: Path):
    lau = Launcher(tmp_path)
    yield lau
    lau.close()


@pytest.fixture
def http_servers():
    """Two HTTP servers, ``a`` and ``b``."""
    servers = [Background(http_app("a")), Background(http_app("b"))]
    yield servers
    for s in servers:
        s.close()


@pytest.fixture
def port():
    return free_port()


DEFAULTS = """
defaults
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""
