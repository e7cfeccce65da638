"""Load test: wrk through pyhaproxy's HTTP and TCP frontends (``make loadtest``).

Starts a backend (nginx on loopback with its own temporary configuration, or
a small asyncio HTTP server when nginx is missing), pyhaproxy with an HTTP
and a TCP frontend in front of it, then runs wrk through each frontend.
Prints wrk's output, requests/s and the proxy's CPU time per request (utime +
stime from /proc/PID/stat).  Exits non-zero if wrk reports any error (socket
errors, non-2xx/3xx responses) or if the proxy died.

``--haproxy`` runs the same configuration with Debian's haproxy too, for
comparison.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procs import free_port, tree_cpu, wait_port

ROOT = Path(__file__).resolve().parent.parent

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "hello from nginx\\n"; }}
    }}
}}
"""

ASYNCIO_SERVER = """
import asyncio, sys
BODY = b"HTTP/1.1 200 OK\\r\\nContent-Length: 17\\r\\n\\r\\nhello from async\\n"
class P(asyncio.Protocol):
    def connection_made(self, t): self.t = t; self.buf = b""
    def data_received(self, d):
        self.buf += d
        n = self.buf.count(b"\\r\\n\\r\\n")
        if n:
            self.buf = self.buf[self.buf.rfind(b"\\r\\n\\r\\n") + 4:]
            self.t.write(BODY * n)
async def main():
    srv = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]))
    await srv.serve_forever()
asyncio.run(main())
"""

PROXY_CONF = """
defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend http_in
    mode http
    bind 127.0.0.1:{http_port}
    default_backend web

frontend tcp_in
    mode tcp
    bind 127.0.0.1:{tcp_port}
    default_backend web_tcp

backend web
    mode http
    server s1 127.0.0.1:{backend_port}

backend web_tcp
    mode tcp
    server s1 127.0.0.1:{backend_port}
"""


@dataclass
class Result:
    name: str
    requests: int
    rps: float
    errors: int
    cpu_us_per_req: float


def start_backend(tmp: Path, port: int) -> subprocess.Popen:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if nginx:
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
        cmd = [nginx, "-p", str(tmp), "-c", str(conf)]
    else:
        script = tmp / "server.py"
        script.write_text(ASYNCIO_SERVER)
        cmd = [sys.executable, str(script), str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port, proc):
        raise SystemExit(f"port {port} did not open ({proc.args[0]} exited: {proc.poll()})")
    print(f"backend: {'nginx' if nginx else 'asyncio server'} on 127.0.0.1:{port}")
    return proc


def run_wrk(name: str, url: str, pid: int, args: argparse.Namespace) -> Result:
    before = tree_cpu(pid)
    out = subprocess.run(
        ["wrk", f"-c{args.connections}", f"-d{args.duration}s", f"-t{args.threads}", url],
        capture_output=True,
        text=True,
        timeout=args.duration + 60,
    )
    after = tree_cpu(pid)
    print(f"--- {name}: wrk -c{args.connections} -d{args.duration}s -t{args.threads} {url}")
    print(out.stdout, end="")
    if out.stderr:
        print(out.stderr, end="")
    m = re.search(r"(\d+) requests in", out.stdout)
    requests = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    rps = float(m.group(1)) if m else 0.0
    errors = 0
    m = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out.stdout
    )
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if m:
        errors += int(m.group(1))
    if out.returncode != 0 or not requests:
        errors += 1
    cpu_us = (after - before) * 1e6 / requests if requests else float("inf")
    return Result(name, requests, rps, errors, cpu_us)


def bench_proxy(
    label: str, cmd: list[str], tmp: Path, backend_port: int, args
) -> tuple[list[Result], bool]:
    http_port, tcp_port = free_port(), free_port()
    conf = tmp / f"{label}.cfg"
    conf.write_text(
        PROXY_CONF.format(http_port=http_port, tcp_port=tcp_port, backend_port=backend_port)
    )
    with open(tmp / f"{label}.log", "w") as log:
        proc = subprocess.Popen(
            [*cmd, "-f", str(conf), "-db"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
    try:
        if not wait_port(http_port, proc):
            raise SystemExit(
                f"port {http_port} did not open ({proc.args[0]} exited: {proc.poll()})"
            )
        if not wait_port(tcp_port, proc):
            raise SystemExit(f"port {tcp_port} did not open ({proc.args[0]} exited: {proc.poll()})")
        results = [
            run_wrk(f"{label} http", f"http://127.0.0.1:{http_port}/", proc.pid, args),
            run_wrk(f"{label} tcp", f"http://127.0.0.1:{tcp_port}/", proc.pid, args),
        ]
        alive = proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
    if not alive:
        print(f"{label} died: see {tmp / (label + '.log')}")
        print((tmp / f"{label}.log").read_text())
    return results, alive


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--duration", type=int, default=10)
    ap.add_argument("-c", "--connections", type=int, default=200)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--haproxy", action="store_true", help="also run Debian's haproxy")
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is not installed")
        return 2
    ok = True
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pyhaproxy-loadtest-") as tmpdir:
        tmp = Path(tmpdir)
        backend_port = free_port()
        backend = start_backend(tmp, backend_port)
        try:
            res, alive = bench_proxy(
                "pyhaproxy", [sys.executable, "-m", "pyhaproxy"], tmp, backend_port, args
            )
            results += res
            ok = alive and all(r.errors == 0 for r in res)
            if args.haproxy:
                res, _ = bench_proxy("haproxy", ["/usr/sbin/haproxy"], tmp, backend_port, args)
                results += res
        finally:
            backend.terminate()
            backend.wait(10)
    print()
    print(f"{'run':<16} {'requests':>10} {'req/s':>10} {'errors':>7} {'CPU-us/req':>11}")
    for r in results:
        print(
            f"{r.name:<16} {r.requests:>10} {r.rps:>10.0f} {r.errors:>7} {r.cpu_us_per_req:>11.1f}"
        )
    print("PASS" if ok else "FAIL: errors reported or the proxy died")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
