"""HAProxy's built-in error responses (src/http.c ``http_err_msgs``) and
``errorfile <code> <file>`` (configuration.txt §4.2 "errorfile").

The bytes are those Debian's haproxy 2.6 sends: lower-case header names,
``cache-control: no-cache``, and ``connection: close`` only when the
connection is about to close (HTTP/1.0 client, unfinished request).

400 and 408 come from HAProxy's H1 multiplexer before any stream exists,
with its own header spelling and always closing; ``errorfile 400`` does not
change the 400 answered to a request the parser refused (as haproxy 2.6).

An errorfile is parsed once at start and re-emitted as haproxy 2.6 does
(it goes through HTX): header names lower-cased, values trimmed, its
``Connection`` header dropped, ``connection: close`` added when closing an
HTTP/1.1 answer.  An empty file (``/dev/null``) closes without an answer.
"""

from __future__ import annotations

_PAGES = {
    200: ("200 OK", "Service ready."),
    400: ("400 Bad request", "Your browser sent an invalid request."),
    401: ("401 Unauthorized", "You need a valid user and password to access this content."),
    403: ("403 Forbidden", "Request forbidden by administrative rules."),
    404: ("404 Not Found", "The resource could not be found."),
    405: (
        "405 Method Not Allowed",
        "A request was made of a resource using a request method not supported by that resource",
    ),
    407: ("407 Unauthorized", "You need a valid user and password to access this content."),
    408: ("408 Request Time-out", "Your browser didn't send a complete request in time."),
    410: (
        "410 Gone",
        "The resource is no longer available and will not be available again.",
    ),
    413: ("413 Payload Too Large", "The request entity exceeds the maximum allowed."),
    425: ("425 Too Early", "Your browser sent early data."),
    429: ("429 Too Many Requests", "You have sent too many requests in a given amount of time."),
    500: ("500 Internal Server Error", "An internal server error occurred."),
    501: (
        "501 Not Implemented",
        ".The server does not support the functionality required to fulfill the request.",
    ),
    502: ("502 Bad Gateway", "The server returned an invalid or incomplete response."),
    503: ("503 Service Unavailable", "No server is available to handle this request."),
    504: ("504 Gateway Time-out", "The server didn't respond in time."),
}
# statuses a stream always answers closing (the request could not be read)
_ALWAYS_CLOSE = frozenset({400, 408})

Pages = dict[tuple[int, bool], bytes]


def _render(status: int, close: bool) -> bytes:
    title, text = _PAGES[status]
    body = f"<html><body><h1>{title}</h1>\n{text}\n</body></html>\n".encode()
    head = (
        f"HTTP/1.1 {title}\r\ncontent-length: {len(body)}\r\n"
        "cache-control: no-cache\r\ncontent-type: text/html\r\n"
    )
    if close or status in _ALWAYS_CLOSE:
        head += "connection: close\r\n"
    return head.encode() + b"\r\n" + body


# (status, closing) -> bytes, rendered once at import.
ERROR_PAGES: Pages = {
    (code, close): _render(code, close) for code in _PAGES for close in (False, True)
}


def render_errorfile(data: bytes, close: bool) -> bytes:
    """An errorfile's bytes as haproxy 2.6 emits them; ``b""``: close silently."""
    if not data.strip():
        return b""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    out = [lines[0].rstrip()]
    has_length = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        name = name.strip().lower()
        if name == b"connection":
            continue
        has_length = has_length or name == b"content-length"
        out.append(name + b": " + value.strip())
    http11 = out[0].startswith(b"HTTP/1.1")
    if http11 and (close or not has_length):
        out.append(b"connection: close")
    return b"\r\n".join(out) + b"\r\n\r\n" + body


def build_pages(errorfiles: dict[int, str]) -> Pages:
    """Default pages overridden by ``errorfile`` entries (read once, at start)."""
    if not errorfiles:
        return ERROR_PAGES
    pages = dict(ERROR_PAGES)
    for code, path in errorfiles.items():
        with open(path, "rb") as f:
            data = f.read()
        pages[(code, False)] = render_errorfile(data, False)
        pages[(code, True)] = render_errorfile(data, True)
    return pages


def closes(page: bytes) -> bool:
    """Whether sending ``page`` must end the connection."""
    return not page.startswith(b"HTTP/1.1") or b"\r\nconnection: close\r\n" in page


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
