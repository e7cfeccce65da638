"""HAProxy's built-in error responses (src/http_htx.c, ``http_err_msgs``).

The bytes are those Debian's haproxy 2.6 sends: lower-case header names,
``cache-control: no-cache``, and ``connection: close`` only when the
connection is about to close (HTTP/1.0 client, unfinished request).

400 and 408 come from HAProxy's H1 multiplexer before any stream exists,
with its own header spelling and always closing.
"""

from __future__ import annotations

_PAGES = {
    502: (
        "502 Bad Gateway",
        "The server returned an invalid or incomplete response.",
    ),
    503: (
        "503 Service Unavailable",
        "No server is available to handle this request.",
    ),
    504: (
        "504 Gateway Time-out",
        "The server didn't respond in time.",
    ),
}


def _render(status: int, close: bool) -> bytes:
    title, text = _PAGES[status]
    body = f"<html><body><h1>{title}</h1>\n{text}\n</body></html>\n".encode()
    head = (
        f"HTTP/1.1 {title}\r\ncontent-length: {len(body)}\r\n"
        "cache-control: no-cache\r\ncontent-type: text/html\r\n"
    )
    if close:
        head += "connection: close\r\n"
    return head.encode() + b"\r\n" + body


# (status, closing) -> bytes, rendered once at import.
ERROR_PAGES: dict[tuple[int, bool], bytes] = {
    (code, close): _render(code, close) for code in _PAGES for close in (False, True)
}


def _mux_page(title: str, text: str) -> bytes:
    body = f"<html><body><h1>{title}</h1>\n{text}\n</body></html>\n".encode()
    return (
        f"HTTP/1.1 {title}\r\nContent-length: {len(body)}\r\nCache-Control: no-cache\r\n"
        "Connection: close\r\nContent-Type: text/html\r\n\r\n"
    ).encode() + body


BAD_REQUEST = _mux_page("400 Bad request", "Your browser sent an invalid request.")
REQUEST_TIMEOUT = _mux_page(
    "408 Request Time-out", "Your browser didn't send a complete request in time."
)
