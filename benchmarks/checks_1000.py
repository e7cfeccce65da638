"""Health-check cost: 1000 servers checked every second (issue #5).

Starts ``pyhaproxy`` (and Debian's haproxy, when installed, for scale) with
one backend of 1000 servers, all checked every second against one listening
loopback server, and reads the proxy's CPU time from /proc over ~10 s.  The
goal: less than 10% of one core.  ``--http`` makes them ``option httpchk``
checks (the listener answers ``HTTP/1.0 200``).

    .venv/bin/python -m benchmarks.checks_1000 [--http] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.procs import _cpu_seconds, free_port, wait_port

HAPROXY = "/usr/sbin/haproxy"


def _target(http: bool) -> int:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)

    def serve() -> None:
        while True:
            conn, _ = sock.accept()
            try:
                if http:
                    conn.settimeout(1)
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            conn.close()

    for _ in range(4 if http else 1):
        threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1]


def config(servers: int, target: int, fe: int, http: bool) -> str:
    lines = [
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        "    timeout client 5s",
        "    timeout server 5s",
        "backend be",
    ]
    if http:
        lines.append("    option httpchk GET /")
    lines += [f"    server s{i} 127.0.0.1:{target} check inter 1s" for i in range(servers)]
    lines += ["frontend fe", f"    bind 127.0.0.1:{fe}", "    default_backend be", ""]
    return "\n".join(lines)


def measure(cmd: list[str], cfg: str, fe: int, seconds: float) -> float:
    """Share of one core the process uses once its checks run."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checks.cfg"
        path.write_text(cfg)
        proc = subprocess.Popen(
            [*cmd, "-f", str(path), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            if not wait_port(fe, proc):
                raise SystemExit(f"{cmd[0]} did not start: {proc.stderr.read().decode()}")
            time.sleep(2.0)  # the first round is spread over one interval
            c0, t0 = _cpu_seconds(proc.pid), time.monotonic()
            time.sleep(seconds)
            c1, t1 = _cpu_seconds(proc.pid), time.monotonic()
            if proc.poll() is not None:
                raise SystemExit(f"{cmd[0]} exited: {proc.stderr.read().decode()}")
        finally:
            proc.terminate()
            proc.wait(10)
    return (c1 - c0) / (t1 - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--http", action="store_true")
    args = ap.parse_args()
    target = _target(args.http)
    kind = "httpchk" if args.http else "tcp connect"
    print(f"{args.servers} servers, {kind} checks every 1s, {args.seconds:.0f}s")
    fe = free_port()
    cfg = config(args.servers, target, fe, args.http)
    mine = measure([sys.executable, "-m", "pyhaproxy"], cfg, fe, args.seconds)
    print(f"pyhaproxy: {mine * 100:.1f}% of one core")
    if os.path.exists(HAPROXY):
        fe = free_port()
        theirs = measure([HAPROXY], config(args.servers, target, fe, args.http), fe, args.seconds)
        print(f"haproxy:   {theirs * 100:.1f}% of one core")
    if mine >= 0.10:
        print("over the 10% budget")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
