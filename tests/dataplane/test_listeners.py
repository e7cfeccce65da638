"""`bind` forms and options: unix paths, port ranges, IPv6, fd@N, maxconn."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from tests.dataplane.conftest import DEFAULTS, ROOT, wait_port
from tests.dataplane.servers import Background, echo_tcp, free_port


@pytest.fixture
def echo():
    srv = Background(echo_tcp)
    yield srv
    srv.close()


def tcp_cfg(bind: str, server_port: int) -> str:
    return f"""{DEFAULTS}
listen li
    mode tcp
    bind {bind}
    server s1 127.0.0.1:{server_port}
"""


def roundtrip(sock: socket.socket, data: bytes = b"ping") -> bytes:
    with sock:
        sock.settimeout(5)
        sock.sendall(data)
        return sock.recv(100)


def test_unix_socket(launcher, echo, tmp_path):
    path = tmp_path / "li.sock"
    launcher.start(tcp_cfg(str(path), echo.port))
    for _ in range(100):
        if path.exists():
            break
        time.sleep(0.05)
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    assert roundtrip(s) == b"ping"


def test_port_range(launcher, echo):
    for _ in range(20):
        low = free_port()
        try:
            socket.create_server(("127.0.0.1", low + 1)).close()
            break
        except OSError:
            continue
    launcher.start(tcp_cfg(f"127.0.0.1:{low}-{low + 1}", echo.port), wait=[low, low + 1])
    for p in (low, low + 1):
        assert roundtrip(socket.create_connection(("127.0.0.1", p))) == b"ping"


def test_ipv6_loopback(launcher, echo):
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    port = free_port()
    launcher.start(tcp_cfg(f"[::1]:{port} v6only", echo.port))
    for _ in range(100):
        try:
            s = socket.create_connection(("::1", port), timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    assert roundtrip(s) == b"ping"


def test_fd_inherited(launcher, echo, tmp_path):
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    cfg = tmp_path / "fd.cfg"
    cfg.write_text(tcp_cfg(f"fd@{lsock.fileno()}", echo.port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyhaproxy", "-f", str(cfg), "-db"],
        cwd=ROOT,
        pass_fds=(lsock.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    launcher.procs.append(proc)
    lsock.close()
    wait_port(port, proc)
    assert roundtrip(socket.create_connection(("127.0.0.1", port))) == b"ping"


def test_bind_maxconn_pauses_accepting(launcher, echo, port):
    launcher.start(tcp_cfg(f"127.0.0.1:{port} maxconn 1 backlog 16 name one", echo.port))
    wait_port(port)  # that probe connection is closed at once
    import time

    time.sleep(0.2)
    first = socket.create_connection(("127.0.0.1", port), timeout=5)
    first.sendall(b"a")
    assert first.recv(10) == b"a"
    second = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    second.sendall(b"b")
    with pytest.raises(TimeoutError):
        second.recv(10)  # waits in the backlog
    first.close()
    second.settimeout(5)
    assert second.recv(10) == b"b"
    second.close()


@pytest.mark.parametrize(
    "where",
    ["global\n    maxconn 1\n", "frontend"],
    ids=["global", "frontend"],
)
def test_global_and_frontend_maxconn(launcher, echo, where):
    p1, p2 = free_port(), free_port()
    glob = where if where.startswith("global") else ""
    fe_max = "    maxconn 1\n" if where == "frontend" else ""
    cfg = f"""{glob}{DEFAULTS}
frontend fe
    mode tcp
    bind 127.0.0.1:{p1}
    bind 127.0.0.1:{p2}
{fe_max}    default_backend be
backend be
    mode tcp
    server s1 127.0.0.1:{echo.port}
"""
    launcher.start(cfg, wait=[p1, p2])
    time.sleep(0.2)
    first = socket.create_connection(("127.0.0.1", p1), timeout=5)
    first.sendall(b"a")
    assert first.recv(10) == b"a"
    second = socket.create_connection(("127.0.0.1", p2), timeout=0.5)  # other bind line
    second.sendall(b"b")
    with pytest.raises(TimeoutError):
        second.recv(10)
    first.close()
    second.settimeout(5)
    assert second.recv(10) == b"b"
    second.close()


def _ipv6() -> bool:
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize(
    "form,family,host",
    [
        ("ipv4@127.0.0.1:{port}", socket.AF_INET, "127.0.0.1"),
        ("*:{port}", socket.AF_INET, "127.0.0.1"),
        (":{port}", socket.AF_INET, "127.0.0.1"),
        ("ipv6@[::1]:{port}", socket.AF_INET6, "::1"),
        ("[::]:{port} v4v6", socket.AF_INET, "127.0.0.1"),
        ("[::]:{port} v4v6", socket.AF_INET6, "::1"),
    ],
)
def test_bind_address_forms(launcher, echo, form, family, host):
    if (family == socket.AF_INET6 or "[" in form) and not _ipv6():
        pytest.skip("no IPv6 loopback")
    port = free_port()
    launcher.start(tcp_cfg(form.format(port=port), echo.port))
    for _ in range(100):
        try:
            s = socket.create_connection((host, port), timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    assert roundtrip(s) == b"ping"


@pytest.mark.parametrize("form", ["unix@{path}", "{path}"])
def test_unix_bind_and_unix_server(launcher, tmp_path, form):
    """A unix listener in front of a unix-socket server."""
    import asyncio
    import threading

    srv_path = tmp_path / "srv.sock"
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def handle(reader, writer):
        writer.write(b"unix:" + await reader.read(100))
        await writer.drain()
        writer.close()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(asyncio.start_unix_server(handle, str(srv_path)))
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(5)
    try:
        path = tmp_path / "li.sock"
        cfg = f"""{DEFAULTS}
listen li
    mode tcp
    bind {form.format(path=path)}
    server s1 {"unix@" if form.startswith("unix@") else ""}{srv_path}
"""
        launcher.start(cfg)
        for _ in range(100):
            if path.exists():
                break
            time.sleep(0.05)
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(path))
        assert roundtrip(s) == b"unix:ping"
    finally:
        loop.call_soon_threadsafe(loop.stop)


def test_server_host_name_resolved_at_start(launcher, echo, port):
    """``server s1 localhost:PORT``: the name is resolved once, at start-up."""
    cfg = tcp_cfg(f"127.0.0.1:{port}", echo.port).replace(
        f"127.0.0.1:{echo.port}", f"localhost:{echo.port}"
    )
    assert f"server s1 localhost:{echo.port}" in cfg
    launcher.start(cfg, wait=port)
    assert roundtrip(socket.create_connection(("127.0.0.1", port))) == b"ping"


def test_unresolvable_server_name_stops_the_start(launcher, port, tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(
        tcp_cfg(f"127.0.0.1:{port}", 1).replace("127.0.0.1:1", "no-such-host.invalid:80")
    )
    out = subprocess.run(
        [sys.executable, "-m", "pyhaproxy", "-f", str(cfg), "-db"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    # Debian haproxy 2.6 says the same, with exit status 1
    assert out.returncode == 1
    line = cfg.read_text().splitlines().index("    server s1 no-such-host.invalid:80") + 1
    assert (
        f"[{cfg}:{line}] : 'server li/s1' : could not resolve address 'no-such-host.invalid'."
        in (out.stderr)
    )
    assert "Failed to initialize server(s) addr." in out.stderr
