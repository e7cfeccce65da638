"""TLS clients (Python ssl, ``openssl s_client``, ``curl``) and a TLS origin
server for the tests."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID


@dataclass
class Hello:
    cn: str
    version: str
    cipher: str
    alpn: str | None
    body: bytes = b""


def client_ctx(
    ca: Path | None = None,
    cert: Path | None = None,
    alpn: list[str] | None = None,
    minv: ssl.TLSVersion | None = None,
    maxv: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if ca:
        ctx.load_verify_locations(str(ca))
    if cert:
        ctx.load_cert_chain(str(cert))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def hello(port: int, sni: str | None = None, request: bytes | None = None, **kw) -> Hello:
    """Handshake (and one request when given); raises ssl.SSLError/OSError."""
    ctx = client_ctx(**kw)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        cert = x509.load_der_x509_certificate(der)
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        out = Hello(str(cn), tls.version() or "", tls.cipher()[0], tls.selected_alpn_protocol())
        if request is not None:
            tls.sendall(request)
            chunks = []
            while True:
                data = tls.recv(65536)
                if not data:
                    break
                chunks.append(data)
            out.body = b"".join(chunks)
        return out


def get(port: int, path: str = "/", sni: str | None = "www.exact.test", **kw) -> bytes:
    """One HTTP/1.1 request with ``Connection: close``; the raw response."""
    req = f"GET {path} HTTP/1.1\r\nHost: {sni or 'x'}\r\nConnection: close\r\n\r\n".encode()
    return hello(port, sni, req, **kw).body


def status(port: int, path: str = "/", **kw) -> int | str:
    """The status code, or the failure's class name."""
    try:
        resp = get(port, path, **kw)
    except (ssl.SSLError, OSError) as exc:
        return type(exc).__name__
    if not resp:
        return "closed"
    return int(resp.split(b" ", 2)[1])


class TlsOrigin:
    """A TLS HTTP server in a thread: answers each request with the SNI the
    client sent and whether it showed a certificate."""

    def __init__(
        self,
        cert: Path,
        port: int,
        ca: Path | None = None,
        maxv: ssl.TLSVersion | None = None,
    ) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert))
        if maxv:
            self.ctx.maximum_version = maxv
        if ca:
            self.ctx.load_verify_locations(str(ca))
            self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.ctx.sni_callback = self._sni
        self.names: list[str | None] = []
        self.reused: list[bool] = []  # per connection: was its session resumed
        self.ciphers: list[tuple[str, str]] = []  # per connection: (version, cipher)
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = port
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _sni(self, obj, name, ctx) -> None:
        self.names.append(name)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                self.reused.append(tls.session_reused)
                self.ciphers.append((tls.version() or "", tls.cipher()[0]))
                peer = "cert" if tls.getpeercert(binary_form=True) else "nocert"
                body = f"sni={self.names[-1] if self.names else None} {peer}".encode()
                tls.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (len(body), body)
                )
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


@dataclass
class Seen:
    """What ``openssl s_client`` reports of one handshake."""

    ok: bool
    cn: str | None = None
    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    temp_key: str | None = None  # "DH, 2048 bits"
    chain: int = 0  # certificates the server sent


_DEPTH = re.compile(r"^ *\d+ s:", re.M)

_CN = re.compile(r"^subject=.*?CN = ([^,\n]+)", re.M)
_NEW = re.compile(r"^New, (\S+), Cipher is (\S+)", re.M)
_ALPN = re.compile(r"^ALPN protocol: (\S+)", re.M)
_TEMP = re.compile(r"^Server Temp Key: (.+)$", re.M)


def s_client(port: int, *args: str, data: bytes = b"", timeout: float = 10) -> Seen:
    """One handshake with ``openssl s_client`` (stdin ``data``, then EOF);
    a failure exits non-zero (s_client still names the cipher chosen)."""
    run = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
        input=data,
        capture_output=True,
        timeout=timeout,
    )
    out = run.stdout.decode("utf-8", "replace")
    new = _NEW.search(out)
    if run.returncode != 0 or new is None or new.group(2) == "(NONE)":
        return Seen(False)
    cn, alpn, temp = _CN.search(out), _ALPN.search(out), _TEMP.search(out)
    return Seen(
        True,
        cn.group(1).strip() if cn else None,
        new.group(1),
        new.group(2),
        alpn.group(1) if alpn else None,
        temp.group(1).strip() if temp else None,
        len(_DEPTH.findall(out)),
    )


def curl(port: int, *args: str, host: str = "www.exact.test", timeout: float = 10) -> str:
    """``curl https://<host>:<port>/`` resolved to loopback: the body, or
    ``error <curl exit status>``."""
    run = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            str(timeout - 2),
            "--resolve",
            f"{host}:{port}:127.0.0.1",
            *args,
            f"https://{host}:{port}/",
        ],
        capture_output=True,
        timeout=timeout,
    )
    return run.stdout.decode() if run.returncode == 0 else f"error {run.returncode}"
