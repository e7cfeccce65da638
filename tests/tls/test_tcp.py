"""TLS termination in ``mode tcp``: TLS has no half-close, so a server's
close becomes close_notify and a close towards the client after the data
(pyhaproxy/dataplane/tcp.py), as the client sees with haproxy."""

from __future__ import annotations

import socket
import threading

from tests.dataplane.servers import free_port
from tests.tls.tlsutil import client_ctx

CFG = """global
    crt-base {d}
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend f
    bind 127.0.0.1:{port} ssl crt default.pem
    default_backend b
backend b
    server s 127.0.0.1:{origin}
"""


def _pong_server() -> tuple[socket.socket, int]:
    port = free_port()
    srv = socket.create_server(("127.0.0.1", port))

    def serve() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                c.sendall(b"pong:" + c.recv(100))

    threading.Thread(target=serve, daemon=True).start()
    return srv, port


def _exchange(port: int) -> bytes:
    ctx = client_ctx()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="x.test") as tls,
    ):
        tls.sendall(b"ping")
        out = []
        while data := tls.recv(100):
            out.append(data)
        return b"".join(out)


def test_server_close_reaches_tls_client(launcher, pki_dir):
    srv, origin = _pong_server()
    try:
        for start in (launcher.start, launcher.haproxy):
            port = free_port()
            start(CFG.format(d=pki_dir, port=port, origin=origin), wait=port)
            for _ in range(3):
                assert _exchange(port) == b"pong:ping"
        log = (launcher.tmp / "pyhaproxy-0.log").read_text()
        assert "Traceback" not in log and "Fatal error" not in log
    finally:
        srv.close()
