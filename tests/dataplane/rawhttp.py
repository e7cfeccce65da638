"""A raw-socket HTTP/1.x client that returns the exact bytes received."""

from __future__ import annotations

import socket


def read_response(sock: socket.socket, head_req: bool = False) -> bytes:
    """One response: headers, then content-length bytes or until EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    if head_req:
        length = 0
    if length is None:
        while chunk := sock.recv(65536):
            body += chunk
    else:
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return head + b"\r\n\r\n" + body


def exchange(port: int, request: bytes, timeout: float = 10.0) -> tuple[bytes, bool]:
    """Send ``request``; return the response and whether the proxy then
    closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        resp = read_response(sock)
        sock.settimeout(0.3)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return resp, closed
