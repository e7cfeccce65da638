"""Run one configuration in Debian's haproxy and in pyhaproxy and send both
the same requests; each server is a ``listen`` section of the same process
answering its own name, so the response body names the chosen server."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.dataplane.servers import free_port

DEFAULTS = """
defaults
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""


@dataclass
class Req:
    """One request: the HTTP head to send (``{}`` gets nothing) and the
    client source address."""

    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    src: str = "127.0.0.1"
    method: str = "GET"
    body: bytes = b""

    def raw(self) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1"]
        if not any(k.lower() == "host" for k, _ in self.headers):
            lines.append("Host: test")
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.body:
            lines.append(f"Content-Length: {len(self.body)}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def config(
    port: int,
    balance: str,
    servers: list[str],
    extra: str = "",
    mode: str = "http",
    stats: str | None = None,
    probe: int | None = None,
    bind: str = "127.0.0.1:{port}",
) -> str:
    """A frontend on ``port`` and a backend whose ``servers`` are lines
    ``NAME [options]``, each served by a listen section answering NAME
    (``!NAME``: no one listens);
    ``probe``: a port of its own to wait on (a probe connection to a TCP
    frontend would take a server turn)."""
    glob = f"global\n    stats socket {stats} level admin\n" if stats else ""
    lines = [glob + DEFAULTS]
    lines.append(
        f"frontend fe\n    mode {mode}\n    bind {bind.format(port=port)}\n    default_backend be\n"
    )
    be = [f"backend be\n    mode {mode}\n"]
    if balance:
        be.append(f"    {balance}\n")
    if extra:
        be.append(extra)
    listens = []
    for spec in servers:
        name, _, opts = spec.partition(" ")
        lp = free_port()
        if name.startswith("!"):  # a server nobody listens for
            be.append(f"    server {name[1:]} 127.0.0.1:{lp} {opts}\n")
            continue
        be.append(f"    server {name} 127.0.0.1:{lp} {opts}\n")
        listens.append(
            f"listen l_{name}\n    mode http\n    bind 127.0.0.1:{lp}\n"
            f"    http-request return status 200 content-type text/plain string {name}\n"
        )
    lines.append("".join(be))
    lines.extend(listens)
    if probe:
        lines.append(
            f"listen probe\n    mode http\n    bind 127.0.0.1:{probe}\n"
            "    http-request return status 200\n"
        )
    return "\n".join(lines)


def ask(port: int, req: Req) -> str:
    """The name of the server that answered ``req`` ("<503>" etc. if none)."""
    with socket.socket() as s:
        s.settimeout(10)
        s.bind((req.src, 0))
        # a refused connect never reaches a balancer: retry it (seen under
        # load on the shared test machine), but not forever
        for attempt in range(3):
            try:
                s.connect(("127.0.0.1", port))
                break
            except ConnectionRefusedError:
                if attempt == 2:
                    raise
                time.sleep(0.3)
        s.sendall(req.raw())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head else b"---"
    if status != b"200":
        return f"<{status.decode()}>"
    return body.decode()


def hold(port: int, src: str = "127.0.0.1") -> tuple[socket.socket, str]:
    """Open a connection through a TCP frontend and keep it open; the name
    of its server comes from a request sent with keep-alive."""
    s = socket.socket()
    s.settimeout(10)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return s, "<closed>"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        body += s.recv(65536)
    return s, body.decode()


def cli(sock_path: str, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(sock_path)
        s.sendall(command.encode() + b"\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    return out.decode()


Step = Req | Callable[[int, str | None], object]


def run(
    port: int, steps: Iterable[Step], sock: str | None = None, settle: float = 0.0
) -> list[str]:
    """The server of each request of ``steps``; ``settle``: a pause after
    each, so that the proxy has released the stream's server slot before
    the next one is balanced (leastconn and first count them)."""
    out = []
    for step in steps:
        if isinstance(step, Req):
            out.append(ask(port, step))
            if settle:
                time.sleep(settle)
        elif getattr(step, "records", False):
            out.append(step(port, sock))
        else:
            step(port, sock)
    return out


def both(
    launcher,
    balance: str,
    servers: list[str],
    steps: list[Step],
    extra: str = "",
    mode: str = "http",
    stats: bool = False,
    bind: str = "127.0.0.1:{port}",
) -> tuple[list[str], list[str]]:
    """The servers chosen by haproxy and by pyhaproxy for ``steps``."""
    results = []
    for which in ("haproxy", "pyhaproxy"):
        port = free_port()
        sock = None
        if stats:
            sock = str(launcher.tmp / f"{which}-{port}.sock")
        probe = free_port()
        cfg = config(port, balance, servers, extra, mode, sock, probe, bind)
        if which == "haproxy":
            launcher.haproxy(cfg, wait=probe)
        else:
            launcher.start(cfg, wait=probe)
        if sock:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
        # sequential traffic: each stream has ended before the next starts
        counted = any(algo in balance for algo in ("leastconn", "first"))
        results.append(run(port, steps, sock, 0.05 if counted else 0.0))
    return results[0], results[1]


def command(text: str) -> Callable[[int, str | None], object]:
    """A step sending ``text`` to the stats socket."""

    def step(port: int, sock: str | None) -> None:
        assert sock is not None
        cli(sock, text)

    return step


PATHS = [
    "/",
    "/index.html",
    "/img/logo.png",
    "/a/b/c/d.html",
    "/api/v1/users?id=42&user=alice",
    "/api/v1/users?user=bob",
    "/search?q=haproxy&user=carol&page=2",
    "/static/js/app.js?v=3",
    "/a/b?user=",
    "/p?x=1&user=dave&user=eve",
    "http://test/abs/path?user=frank",
    "/deep/er/path/than/others/x?user=gina",
]
HOSTS = [
    "www.haproxy.org",
    "api.example.com",
    "static.cdn.net",
    "localhost",
    "a.b.c.d.example",
    "x.y",
    "1wt.eu",
    "shop.example.com:8080",
]


def mixed(n: int = 30, header: str = "X-Key") -> list[Req]:
    """``n`` requests over several paths, parameters, header values and
    source addresses 127.0.0.x (some requests without the header)."""
    out = []
    for i in range(n):
        hdrs: tuple[tuple[str, str], ...] = ()
        if i % 7 != 3:
            hdrs = ((header, HOSTS[(i * 3) % len(HOSTS)]),)
        out.append(Req(PATHS[i % len(PATHS)], hdrs, f"127.0.0.{1 + (i * 5) % 23}"))
    return out


class Holder:
    """Steps that keep connections open (``hold``) and close them later
    (``release(i)``): what leastconn and first balance on."""

    def __init__(self) -> None:
        self.conns: dict[int, list[socket.socket]] = {}

    def hold(self, src: str = "127.0.0.1") -> Callable[[int, str | None], object]:
        def step(port: int, sock: str | None) -> str:
            s, name = hold(port, src)
            self.conns.setdefault(port, []).append(s)
            return name

        step.records = True  # type: ignore[attr-defined]
        return step

    def send(self, src: str = "127.0.0.1") -> Callable[[int, str | None], object]:
        """Open a connection and send a request without waiting (it may
        queue); ``collect(i)`` reads its answer later."""

        def step(port: int, sock: str | None) -> None:
            s = socket.socket()
            s.settimeout(10)
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            self.conns.setdefault(port, []).append(s)
            time.sleep(0.2)  # let it reach the queue

        return step

    def collect(self, i: int) -> Callable[[int, str | None], object]:
        def step(port: int, sock: str | None) -> str:
            s = self.conns[port][i]
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    return "<closed>"
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(body) < length:
                body += s.recv(65536)
            return body.decode()

        step.records = True  # type: ignore[attr-defined]
        return step

    def release(self, i: int) -> Callable[[int, str | None], object]:
        def step(port: int, sock: str | None) -> None:
            self.conns[port][i].close()
            time.sleep(0.3)  # let the proxy see the close

        return step

    def close(self) -> None:
        for conns in self.conns.values():
            for s in conns:
                s.close()


def pause(seconds: float = 0.05) -> Callable[[int, str | None], object]:
    """A step letting the proxy finish the previous stream (leastconn
    counts streams until they are released)."""

    def step(port: int, sock: str | None) -> None:
        time.sleep(seconds)

    return step
