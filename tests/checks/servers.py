"""A check target whose behaviour a test switches: answer, refuse, hang."""

from __future__ import annotations

import socket
import ssl
import threading
import time


class Target:
    """A loopback server on a fixed port.  ``mode``: ``"reply"`` (send
    ``reply`` after reading the request, then close), ``"greet"`` (send
    ``reply`` at once), ``"script"`` (``reply`` is a list: bytes are sent,
    ``None`` reads once), ``"hang"`` (accept, never answer), ``"refuse"``
    (not listening: connections are refused).  Counts the connections it
    accepted (``hits``).  With ``tls`` (a server context), every
    connection is a TLS one; the SNI names clients sent are in ``names``."""

    def __init__(
        self, reply: bytes | list = b"", mode: str = "reply", tls: ssl.SSLContext | None = None
    ) -> None:
        first = socket.socket()
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        first.bind(("127.0.0.1", 0))  # the port is ours from now on
        self.port = first.getsockname()[1]
        self.reply = reply
        self.mode = "refuse"
        self.hits = 0
        self.seen: list[tuple[float, bytes]] = []  # (monotonic time, first line)
        self._sock: socket.socket | None = None
        self._reserved: socket.socket | None = first  # the port, while refusing
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self.tls = tls
        self.names: list[str | None] = []
        if tls is not None:
            tls.sni_callback = lambda obj, name, ctx: self.names.append(name)
        self.set(mode, reply)

    @staticmethod
    def http(status: int, body: bytes = b"ok", reason: str = "OK") -> bytes:
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
        return head.encode() + b"Connection: close\r\n\r\n" + body

    def set(self, mode: str, reply: bytes | list | None = None) -> None:
        if reply is not None:
            self.reply = reply
        with self._lock:
            self.mode = mode
            if mode == "refuse":
                if self._sock is not None:
                    # shutdown wakes the thread blocked in accept(), which
                    # would otherwise keep the port bound
                    try:
                        self._sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    self._sock.close()
                    self._sock = None
                if self._reserved is None:
                    # bound, not listening: connections are refused and no
                    # client socket can take the port meanwhile
                    self._reserved = self._bound()
                return
            if self._sock is None:
                s, self._reserved = self._reserved or self._bound(), None
                s.listen(512)
                self._sock = s
                threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _bound(self) -> socket.socket:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        return s

    def _serve(self, s: socket.socket) -> None:
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            self.hits += 1
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c: socket.socket) -> None:
        if self.mode == "hang":
            self._held.append(c)
            return
        try:
            c.settimeout(2)
            if self.tls is not None:
                c = self.tls.wrap_socket(c, server_side=True)
            if self.mode == "greet":  # speak first (an agent), then close
                c.sendall(self.reply)
                return
            if self.mode == "script":  # a dialogue: send bytes, read at None
                for item in self.reply:
                    if item is None:
                        if not c.recv(65536):
                            return
                    else:
                        c.sendall(item)
                return
            data = c.recv(65536)
            self.seen.append((time.monotonic(), data.split(b"\r\n", 1)[0]))
            c.sendall(self.reply)
        except OSError:  # ssl.SSLError too
            pass
        finally:
            c.close()

    def close(self) -> None:
        self.set("refuse")
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None
        for c in self._held:
            c.close()
