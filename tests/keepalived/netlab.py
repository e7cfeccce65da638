"""Test network: namespaces joined by bridges, for VRRP interop tests.

Each ``Lab`` creates its own namespaces (unique names, so tests can run in
parallel): one per node, plus one holding the bridges, one per LAN.  Node
``i`` gets ``ethN`` on LAN ``N`` with address ``10.7N.0.(i+1)/24`` and IPv6
``fd0N::(i+1)/64``.  rp_filter is off and IPv6 DAD disabled in every
namespace.  Nothing is configured outside the namespaces.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

_counter = itertools.count()
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
REPO = Path(__file__).resolve().parents[2]


def skip_reason() -> str | None:
    """Why namespace tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "VRRP interop tests need root (network namespaces, raw sockets)"
    if not shutil.which("ip"):
        return "iproute2 'ip' is not installed"
    name = f"pkprobe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def need_keepalived() -> None:
    if not os.path.exists(KEEPALIVED):
        pytest.skip("Debian's keepalived is not installed")


def sh(*args: str, check: bool = True) -> str:
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def wait_for(pred, timeout: float, step: float = 0.05):
    """Poll ``pred`` until true; returns elapsed seconds or None on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(step)
    return None


class Lab:
    def __init__(self, tmp: Path, nodes: int = 2, lans: int = 1, client: bool = False) -> None:
        tag = f"{os.getpid() % 100000}x{next(_counter)}"
        self.tmp = tmp
        self.br = f"pkb{tag}"
        self.nodes = [f"pkn{tag}_{i}" for i in range(nodes)]
        self.client = f"pkc{tag}" if client else None
        self.lans = lans
        self.procs: list[subprocess.Popen] = []
        self.namespaces: list[str] = []
        try:
            self._build()
        except Exception:
            self.close()
            raise

    def _ns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        self.run(name, "ip", "link", "set", "lo", "up")
        for key in ("all", "default"):
            self.run(name, "sysctl", "-q", "-w", f"net.ipv4.conf.{key}.rp_filter=0")
            self.run(name, "sysctl", "-q", "-w", f"net.ipv6.conf.{key}.accept_dad=0")

    def _build(self) -> None:
        self._ns(self.br)
        for lan in range(self.lans):
            self.run(self.br, "ip", "link", "add", f"br{lan}", "type", "bridge")
            self.run(
                self.br, "ip", "link", "set", f"br{lan}", "type", "bridge", "mcast_snooping", "0"
            )
            self.run(self.br, "ip", "link", "set", f"br{lan}", "up")
        members = list(self.nodes) + ([self.client] if self.client else [])
        for i, node in enumerate(members):
            self._ns(node)
            for lan in range(self.lans):
                if node == self.client and lan > 0:
                    continue
                veth = f"v{i}l{lan}"
                self.run(
                    self.br,
                    "ip",
                    "link",
                    "add",
                    veth,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    f"eth{lan}",
                    "netns",
                    node,
                )
                self.run(self.br, "ip", "link", "set", veth, "master", f"br{lan}", "up")
                self.run(node, "sysctl", "-q", "-w", f"net.ipv4.conf.eth{lan}.rp_filter=0")
                self.run(node, "ip", "link", "set", f"eth{lan}", "up")
                host = 100 if node == self.client else i + 1
                self.run(node, "ip", "addr", "add", f"10.7{lan}.0.{host}/24", "dev", f"eth{lan}")
                self.run(
                    node, "ip", "addr", "add", f"fd0{lan}::{host}/64", "dev", f"eth{lan}", "nodad"
                )

    def spawn(self, ns: str, *args: str) -> subprocess.Popen:
        """A helper process in namespace ``ns``, killed at the end of the test."""
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *args], start_new_session=True)
        self.procs.append(proc)
        return proc

    def run(self, ns: str, *args: str, check: bool = True) -> str:
        return sh("ip", "netns", "exec", ns, *args, check=check)

    # ----------------------------------------------------------- daemons

    def start(
        self, node: int, kind: str, conf: str, name: str | None = None, env: dict | None = None
    ) -> subprocess.Popen:
        """Start ``kind`` ("py" or "ka") on node ``node`` with configuration text ``conf``."""
        name = name or f"{kind}{node}"
        path = self.tmp / f"{name}.conf"
        path.write_text(conf)
        pids = [str(self.tmp / f"{name}.{p}.pid") for p in ("main", "vrrp", "check")]
        if kind == "ka":
            cmd = [KEEPALIVED, "-n", "-l", "-P", "-D", "-f", str(path)]
        else:
            cmd = [
                sys.executable,
                "-m",
                "pyhaproxy.keepalived.cli",
                "-n",
                "-l",
                "-G",
                "-f",
                str(path),
            ]
        cmd += ["-p", pids[0], "-r", pids[1], "-c", pids[2]]
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.nodes[node], *cmd],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        proc.log_path = self.tmp / f"{name}.log"  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    @staticmethod
    def log(proc: subprocess.Popen) -> str:
        return Path(proc.log_path).read_text(errors="replace")  # type: ignore[attr-defined]

    @staticmethod
    def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if proc.poll() is None:
            # A crash (SIGKILL) takes the whole process group, keepalived's
            # VRRP child included; other signals go to the main process.
            if sig == signal.SIGKILL:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    # --------------------------------------------------------- observing

    def has_ip(self, node: int, ip: str) -> bool:
        out = self.run(self.nodes[node], "ip", "-o", "addr", "show")
        return any(f" {ip}/" in line for line in out.splitlines())

    def holders(self, ip: str) -> list[int]:
        return [i for i in range(len(self.nodes)) if self.has_ip(i, ip)]

    def close(self) -> None:
        for proc in self.procs:
            try:
                self.stop(proc, signal.SIGKILL, 5)
            except ProcessLookupError:
                pass
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
