"""`make bench`: pyhaproxy and Debian's haproxy, same configuration, one run.

Both proxies sit in front of the same nginx (started here on loopback) and
are driven by wrk.  Runs alternate A/B several times per scenario; the table
gives medians and the pyhaproxy/haproxy ratio of:

- requests/s and latency p50/p99 (wrk --latency),
- proxy CPU microseconds per request: user+system time of every process of
  the proxy (from /proc/PID/stat, children included) divided by the requests
  wrk completed — the fair measure on a small shared machine,
- RSS of the proxy after the run.

A scenario pyhaproxy refuses (a feature not implemented yet) is reported as
such, never skipped silently.  Results: benchmarks/results/latest.md and
latest.png.  Timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.procs import free_port, tree_cpu, tree_rss_mb, wait_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

TIMEOUTS = """defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s
"""


@dataclass
class Scenario:
    name: str
    config: str  # format fields: {port} {backend} {syslog}
    path: str = "/1k"
    connections: int = 50
    headers: tuple[str, ...] = ()
    kind: str = "wrk"  # "wrk" or "idle"
    scheme: str = "http"


SCENARIOS = [
    Scenario(
        "http keep-alive, 1 KB",
        TIMEOUTS + "frontend fe\n    mode http\n    bind 127.0.0.1:{port}\n"
        "    default_backend be\nbackend be\n    mode http\n    server s1 {backend}\n",
    ),
    Scenario(
        "http keep-alive, 1 KB, httplog to UDP syslog",
        "global\n    log 127.0.0.1:{syslog} local0\n" + TIMEOUTS + "    log global\n"
        "frontend fe\n    mode http\n    option httplog\n    bind 127.0.0.1:{port}\n"
        "    default_backend be\nbackend be\n    mode http\n    server s1 {backend}\n",
    ),
    Scenario(
        "http new connection per request",
        TIMEOUTS + "frontend fe\n    mode http\n    bind 127.0.0.1:{port}\n"
        "    default_backend be\nbackend be\n    mode http\n    server s1 {backend}\n",
        headers=("Connection: close",),
    ),
    Scenario(
        "tcp bulk, 10 MB objects",
        TIMEOUTS + "listen tcp\n    mode tcp\n    bind 127.0.0.1:{port}\n    server s1 {backend}\n",
        path="/10m",
        connections=8,
    ),
    Scenario(
        "https full handshake per request",
        TIMEOUTS + "frontend fe\n    mode http\n    bind 127.0.0.1:{port} ssl crt {cert}\n"
        "    default_backend be\nbackend be\n    mode http\n    server s1 {backend}\n",
        headers=("Connection: close",),
        scheme="https",
    ),
    Scenario(
        "https keep-alive",
        TIMEOUTS + "frontend fe\n    mode http\n    bind 127.0.0.1:{port} ssl crt {cert}\n"
        "    default_backend be\nbackend be\n    mode http\n    server s1 {backend}\n",
        scheme="https",
    ),
    Scenario(
        "reload under load (failed requests)",
        TIMEOUTS + "frontend fe\n    mode http\n    bind 127.0.0.1:{port}\n"
        "    default_backend be\nbackend be\n    mode http\n    server s1 {backend}\n",
        kind="reload",
    ),
    Scenario(
        "10,000 idle keep-alive connections",
        TIMEOUTS + "frontend fe\n    mode http\n    maxconn 20000\n    bind 127.0.0.1:{port}\n"
        "    default_backend be\nbackend be\n    mode http\n    server s1 {backend}\n",
        kind="idle",
    ),
]


@dataclass
class Sample:
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_us_per_req: float = 0.0
    rss_mb: float = 0.0
    errors: int = 0


@dataclass
class Row:
    scenario: str
    samples: dict[str, list[Sample]] = field(
        default_factory=lambda: {"haproxy": [], "pyhaproxy": []}
    )
    refused: dict[str, str] = field(default_factory=dict)


class Nginx:
    """A fast backend on loopback serving /1k and /10m."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "nginx"
        (self.dir / "www").mkdir(parents=True)
        (self.dir / "www" / "1k").write_bytes(b"x" * 1024)
        (self.dir / "www" / "10m").write_bytes(os.urandom(1 << 20) * 10)
        conf = self.dir / "nginx.conf"
        conf.write_text(
            f"worker_processes 1;\npid {self.dir}/nginx.pid;\nerror_log {self.dir}/error.log;\n"
            "daemon off;\nevents { worker_connections 4096; }\n"
            f"http {{ access_log off; keepalive_requests 1000000;\n"
            f"  client_body_temp_path {self.dir}; proxy_temp_path {self.dir};\n"
            f"  fastcgi_temp_path {self.dir}; uwsgi_temp_path {self.dir}; scgi_temp_path {self.dir};\n"
            f"  server {{ listen 127.0.0.1:{self.port}; root {self.dir}/www; }} }}\n"
        )
        self.proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(self.dir)], stderr=subprocess.DEVNULL
        )
        if not wait_port(self.port):
            raise SystemExit("bench: nginx did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def start_proxy(which: str, cfg: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    cmd = (
        ["haproxy", *extra, "-db", "-f", str(cfg)]
        if which == "haproxy"
        else [sys.executable, "-m", "pyhaproxy", *extra, "-db", "-f", str(cfg)]
    )
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc


def run_wrk(port: int, sc: Scenario, seconds: int) -> tuple[Sample, int]:
    cmd = ["wrk", "-t", "2", "-c", str(sc.connections), "-d", f"{seconds}s", "--latency"]
    for h in sc.headers:
        cmd += ["-H", h]
    cmd.append(f"{sc.scheme}://127.0.0.1:{port}{sc.path}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    s = Sample()
    m = re.search(r"(\d+) requests in", out)
    requests = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    s.rps = float(m.group(1)) if m else 0.0
    for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if m:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
            setattr(s, attr, float(m.group(1)) * scale)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    s.errors = (sum(map(int, errs.groups())) if errs else 0) + (
        int(non2xx.group(1)) if non2xx else 0
    )
    return s, requests


def run_idle(pid: int, port: int, count: int = 10000, seconds: float = 5.0) -> Sample:
    """Open ``count`` keep-alive connections, let them sit, measure RSS and CPU."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1024), hard))
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.setblocking(True)
            s.connect(("127.0.0.1", port))
            socks.append(s)
        time.sleep(1.0)
        cpu0 = tree_cpu(pid)
        time.sleep(seconds)
        sample = Sample()
        sample.cpu_us_per_req = (tree_cpu(pid) - cpu0) / seconds * 1e6  # µs of CPU per second idle
        sample.rss_mb = tree_rss_mb(pid)
        return sample
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def measure(which: str, sc: Scenario, cfg_text: str, workdir: Path, seconds: int) -> Sample | str:
    port = free_port()
    cfg = workdir / f"{which}.cfg"
    cfg.write_text(cfg_text.replace("{port}", str(port)))
    proc = start_proxy(which, cfg, ("-W",) if sc.kind == "reload" else ())
    try:
        if not wait_port(port, proc):
            proc.kill()
            err = proc.communicate(timeout=5)[1] or ""
            alerts = [ln for ln in err.splitlines() if "ALERT" in ln]
            return (alerts[0].split(" : ", 1)[-1] if alerts else "did not start").strip()
        if sc.kind == "idle":
            return run_idle(proc.pid, port)
        cpu0 = tree_cpu(proc.pid)
        reloader = None
        if sc.kind == "reload":  # SIGUSR2 to the master every second under load
            reloader = threading.Thread(target=_reload_loop, args=(proc, seconds), daemon=True)
            reloader.start()
        sample, requests = run_wrk(port, sc, seconds)
        if reloader is not None:
            reloader.join()
        cpu = tree_cpu(proc.pid) - cpu0
        sample.cpu_us_per_req = cpu / requests * 1e6 if requests else float("nan")
        sample.rss_mb = tree_rss_mb(proc.pid)
        return sample
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _reload_loop(proc: subprocess.Popen, seconds: int) -> None:
    for _ in range(max(1, seconds - 1)):
        time.sleep(1.0)
        if proc.poll() is None:
            proc.send_signal(signal.SIGUSR2)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and a == a and b == b else "n/a"


def render(rows: list[Row], seconds: int, rounds: int) -> str:
    lines = [
        f"# make bench — {time.strftime('%Y-%m-%d %H:%M')} ({rounds} alternating rounds of {seconds}s)",
        "",
        "| scenario | proxy | req/s | p50 ms | p99 ms | CPU µs/req | RSS MB | errors | CPU ratio py/ha |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        med = {}
        for which in ("haproxy", "pyhaproxy"):
            if which in row.refused:
                lines.append(
                    f"| {row.scenario} | {which} | refused: {row.refused[which]} ||||||| |"
                )
                continue
            ss = row.samples[which]
            med[which] = m = {
                k: median([getattr(s, k) for s in ss])
                for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req", "rss_mb")
            }
            errors = sum(s.errors for s in ss)
            cpu_ratio = (
                ratio(med["pyhaproxy"]["cpu_us_per_req"], med["haproxy"]["cpu_us_per_req"])
                if which == "pyhaproxy" and "haproxy" in med
                else ""
            )
            lines.append(
                f"| {row.scenario} | {which} | {m['rps']:.0f} | {m['p50_ms']:.2f} | "
                f"{m['p99_ms']:.2f} | {m['cpu_us_per_req']:.1f} | {m['rss_mb']:.1f} | {errors} | "
                f"{cpu_ratio} |"
            )
    lines += ["", "For the idle scenario, CPU is µs of CPU per second while idle."]
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib not installed, no plot", file=sys.stderr)
        return
    names, ratios = [], []
    for row in rows:
        if row.samples["haproxy"] and row.samples["pyhaproxy"]:
            ha = median([s.cpu_us_per_req for s in row.samples["haproxy"]])
            py = median([s.cpu_us_per_req for s in row.samples["pyhaproxy"]])
            if ha and py == py:
                names.append(row.scenario)
                ratios.append(py / ha)
    if not names:
        return
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.5 * len(names)))
    ax.barh(range(len(names)), ratios, color="tab:orange")
    ax.axvline(1.0, color="tab:blue", label="haproxy = 1")
    ax.set_yticks(list(range(len(names))), names)
    ax.set_xlabel("proxy CPU per request, pyhaproxy / haproxy (lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration of one run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating A/B rounds")
    ap.add_argument("--only", help="run scenarios whose name contains this text")
    args = ap.parse_args()
    for tool in ("haproxy", "nginx", "wrk"):
        if not shutil.which(tool):
            print(f"bench: '{tool}' is required (apt-get install {tool})", file=sys.stderr)
            return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pyhaproxy-bench-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # nginx workers run unprivileged
        nginx = Nginx(workdir)
        syslog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        syslog.bind(("127.0.0.1", 0))
        cert = ROOT / "conf" / "examples" / "example.com.pem"
        try:
            for sc in SCENARIOS:
                if args.only and args.only not in sc.name:
                    continue
                row = Row(sc.name)
                text = (
                    sc.config.replace("{backend}", f"127.0.0.1:{nginx.port}")
                    .replace("{syslog}", str(syslog.getsockname()[1]))
                    .replace("{cert}", str(cert))
                )
                for rnd in range(args.rounds):
                    order = ("haproxy", "pyhaproxy") if rnd % 2 == 0 else ("pyhaproxy", "haproxy")
                    for which in order:
                        if which in row.refused:
                            continue
                        result = measure(which, sc, text, workdir, args.seconds)
                        if isinstance(result, str):
                            row.refused[which] = result
                        else:
                            row.samples[which].append(result)
                        print(f"  {sc.name} [{which}] round {rnd + 1}: {result}", file=sys.stderr)
                rows.append(row)
        finally:
            nginx.stop()
            syslog.close()
    table = render(rows, args.seconds, args.rounds)
    (RESULTS / "latest.md").write_text(table)
    plot(rows, RESULTS / "latest.png")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
