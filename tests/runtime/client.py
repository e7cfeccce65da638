"""A minimal stats socket client: send bytes, read until the server closes."""

from __future__ import annotations

import socket
import time


def connect(where: str | int, timeout: float = 10.0) -> socket.socket:
    if isinstance(where, int):
        return socket.create_connection(("127.0.0.1", where), timeout=timeout)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(where)
    return s


def cli(where: str | int, text: str, timeout: float = 10.0) -> str:
    """Send ``text`` (a LF is added), half-close, return the whole answer."""
    with connect(where, timeout) as s:
        s.sendall(text.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("latin-1")


def wait_socket(where: str | int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connect(where, 1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
