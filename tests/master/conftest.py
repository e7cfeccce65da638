"""Fixtures starting the real `pyhaproxy -W` master on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dataplane.conftest import ROOT, launcher, wait_port  # noqa: F401 (fixture)
from tests.dataplane.servers import free_port

TIMEOUTS = """
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""


def answer_cfg(port: int, text: str, nbthread: int = 2, extra_global: str = "") -> str:
    """A frontend answering ``text`` itself, or through a listen section."""
    return f"""global
    nbthread {nbthread}
{extra_global}
{TIMEOUTS}
frontend fe
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string {text}
"""


def cli(path: str | Path, command: str, timeout: float = 20.0) -> str:
    """Send one line to the master CLI and read the whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode()


def worker_pids(path: str | Path) -> tuple[list[int], list[int]]:
    """(current, old) worker pids from ``show proc``."""
    current: list[int] = []
    old: list[int] = []
    target = None
    for line in cli(path, "show proc").splitlines():
        if line.startswith("# workers"):
            target = current
        elif line.startswith("# old workers"):
            target = old
        elif line.startswith("#"):
            target = None
        elif target is not None and line.strip():
            target.append(int(line.split()[0]))
    return current, old


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def wait_for(pred, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def get(port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Master:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.cfg = tmp / "haproxy.cfg"
        self.sock = tmp / "master.sock"
        self.log = tmp / "master.log"
        self.proc: subprocess.Popen | None = None

    def start(
        self,
        cfg: str,
        wait: int | None = None,
        args: tuple[str, ...] = ("-W", "-db"),
        env: dict | None = None,
        exe: list[str] | None = None,
    ) -> subprocess.Popen:
        self.cfg.write_text(cfg)
        cmd = [*(exe or [sys.executable, "-m", "pyhaproxy"]), "-f", str(self.cfg), *args]
        cmd += ["-S", str(self.sock)]
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env
            )
        self.proc.log_path = self.log  # type: ignore[attr-defined]
        if wait is not None:
            wait_port(wait, self.proc, timeout=20)
            wait_for(lambda: self.sock.exists(), what="master CLI")
            wait_for(lambda: "Loading success." in self.text(), what="workers ready")
        return self.proc

    def text(self) -> str:
        return self.log.read_text()

    def reload(self, cfg: str | None = None) -> str:
        if cfg is not None:
            self.cfg.write_text(cfg)
        return cli(self.sock, "reload")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def master(tmp_path: Path):
    m = Master(tmp_path)
    yield m
    m.stop()


@pytest.fixture
def port() -> int:
    return free_port()
