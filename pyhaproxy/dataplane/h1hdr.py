"""Request and response head rewrites as HAProxy's H1 mux does them.

Connection modes (configuration.txt §4 "HTTP connection modes"): the
frontend's and the backend's ``option http-keep-alive`` (default),
``option http-server-close``, ``option httpclose`` combine as HAProxy's H1
mux does (h1_set_srv_conn_mode / h1_set_cli_conn_mode): the server side
closes after each response when either proxy has ``http-server-close`` or
``httpclose``; the client side only when the frontend has ``httpclose``
(``CLO``), or the client or the response framing asks for it.  The ``Connection`` header is hop-by-hop: its
``close`` and ``keep-alive`` tokens describe one side only, so each side gets
its own (h1_process_output, h1_update_req_conn_value /
h1_update_res_conn_value in HAProxy's mux_h1.c):

- both tokens are removed from what was received; then
- towards the server, in ``KAL`` mode an HTTP/1.0 request gets
  ``connection: keep-alive`` (HTTP/1.1: nothing, keep-alive is its default);
  otherwise an HTTP/1.1 request gets ``connection: close``;
- towards the client, a response closing the connection gets
  ``connection: close``; one keeping it, for an HTTP/1.0 client, gets
  ``connection: keep-alive``.

Other tokens of a ``Connection`` header stay.  Only the head is touched, and
only when needed: the common case (HTTP/1.1 keep-alive, no ``Connection``
header) costs one regex search of the head.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

KAL, SCL, CLO = 0, 1, 2


def combined_mode(fe_mode: int, be_mode: int) -> int:
    """KAL: both sides keep-alive; SCL: the server side closes; CLO: both."""
    if fe_mode == CLO:
        return CLO
    return SCL if max(fe_mode, be_mode) >= SCL else KAL


_CONN = re.compile(rb"\r\nconnection[ \t]*:([^\r]*)", re.IGNORECASE)
_FRAMING = re.compile(rb"\r\n(?:content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)
_DROP = {b"close", b"keep-alive"}


def set_conn(data: bytes, end: int, want: bytes | None, found: re.Match | None) -> bytes:
    """``data[:end]`` is a head up to (not including) its final CRLF CRLF;
    ``found`` the first Connection header match in it.  Drop every
    ``close``/``keep-alive`` token (a header left empty goes), then append
    ``connection: <want>`` after the last header, as HAProxy's H1 mux."""
    parts = []
    pos = 0
    m = found
    while m is not None:
        tokens = [t.strip() for t in m.group(1).split(b",")]
        kept = [t for t in tokens if t and t.lower() not in _DROP]
        if kept != tokens:
            parts.append(data[pos : m.start()])
            if kept:
                name = data[m.start() + 2 : m.start(1) - 1].rstrip()  # as the sender wrote it
                parts.append(b"\r\n" + name + b": " + b", ".join(kept))
            pos = m.end()
        m = _CONN.search(data, m.end(), end)
    if want is not None:
        parts.append(data[pos:end])
        parts.append(b"\r\nconnection: " + want)
        pos = end
    if not parts:
        return data
    parts.append(data[pos:])
    return b"".join(parts)


# the token a side wants: [keep-alive][HTTP/1.0]
_WANT_REQ = {(True, False): None, (True, True): b"keep-alive", (False, False): b"close"}
_WANT_RES = {(True, False): None, (True, True): b"keep-alive"}


def request_head(
    data: bytes, server_keepalive: bool, v10: bool, fwd: Forward | None, transport: Any
) -> bytes:
    """The request (head first in ``data``) as it goes to the server, with
    the headers of ``option forwardfor|originalto`` appended."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return data
    if fwd is not None:
        extra = fwd.lines(data, end, transport)
        if extra:
            data = data[:end] + extra + data[end:]
            end += len(extra)
    found = _CONN.search(data, 0, end)
    if found is None and server_keepalive and not v10:
        return data  # the common case: nothing to do
    return set_conn(data, end, _WANT_REQ.get((server_keepalive, v10)), found)


def response_head(data: bytes, client_keepalive: bool, client_v10: bool) -> bytes:
    """The response (head first in ``data``) as it goes to the client."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return data
    found = _CONN.search(data, 0, end)
    if client_keepalive and not client_v10:
        if found is None:
            return data
        if found.group(1).strip().lower() == b"keep-alive" and (
            _CONN.search(data, found.end(), end) is None
        ):  # a server's usual "Connection: keep-alive": cut the line
            return data[: found.start()] + data[found.end() :]
    return set_conn(data, end, _WANT_RES.get((client_keepalive, client_v10), b"close"), found)


def close_delimited(data: bytes, head_req: bool) -> bool:
    """Whether a response's body ends only with the connection (no framing)."""
    if head_req or data[9:12] in (b"204", b"304"):
        return False
    end = data.find(b"\r\n\r\n")
    return _FRAMING.search(data, 0, end) is None


class Forward:
    """``option forwardfor`` / ``option originalto`` of a frontend and a
    backend combined (configuration.txt §4.2; HAProxy's http_process_request):
    either proxy enables a header, the backend's ``header`` name wins, an
    ``except`` network of either skips it, ``if-none`` needs both."""

    __slots__ = ("xff", "xff_always", "xff_except", "xff_present", "xto", "xto_except")

    def __init__(self, fe_opts: dict, be_opts: dict) -> None:
        fe_ff, be_ff = _args(fe_opts, "forwardfor"), _args(be_opts, "forwardfor")
        fe_ot, be_ot = _args(fe_opts, "originalto"), _args(be_opts, "originalto")
        self.xff = self.xto = b""
        self.xff_always = False
        self.xff_except: list = []
        self.xto_except: list = []
        self.xff_present = None
        if fe_ff is not None or be_ff is not None:
            opts = [o for o in (fe_ff, be_ff) if o is not None]
            name = (be_ff or {}).get("header") or (fe_ff or {}).get("header") or "X-Forwarded-For"
            self.xff = name.lower().encode("latin-1")
            self.xff_always = any("if-none" not in o for o in opts)
            self.xff_except = [o["except"] for o in opts if "except" in o]
            self.xff_present = re.compile(
                rb"\r\n" + re.escape(self.xff) + rb"[ \t]*:", re.IGNORECASE
            ).search
        if fe_ot is not None or be_ot is not None:
            opts = [o for o in (fe_ot, be_ot) if o is not None]
            name = (be_ot or {}).get("header") or (fe_ot or {}).get("header") or "X-Original-To"
            self.xto = name.lower().encode("latin-1")
            self.xto_except = [o["except"] for o in opts if "except" in o]

    def __bool__(self) -> bool:
        return bool(self.xff or self.xto)

    def lines(self, data: bytes, end: int, transport: Any) -> bytes:
        """The header lines to append to the head ``data[:end]``."""
        out = b""
        if self.xff and (self.xff_always or self.xff_present(data, 0, end) is None):  # type: ignore[misc]
            ip = _ip(transport.get_extra_info("peername"))
            if ip is not None and not any(ip in net for net in self.xff_except):
                out += b"\r\n" + self.xff + b": " + str(ip).encode()
        if self.xto:
            ip = _ip(transport.get_extra_info("sockname"))
            if ip is not None and not any(ip in net for net in self.xto_except):
                out += b"\r\n" + self.xto + b": " + str(ip).encode()
        return out


def _ip(addr: Any) -> Any:
    """The IP address of a socket address (None: not an IP socket)."""
    if not isinstance(addr, tuple):
        return None
    try:
        return ipaddress.ip_address(addr[0])
    except ValueError:
        return None


def _args(options: dict, name: str) -> dict | None:
    """``option forwardfor|originalto`` words → {"except": net, "header":
    name, "if-none": True}; None when the option is not set."""
    if name not in options or options[name] is False:
        return None
    words = list(options[name] or ())
    out: dict = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w == "if-none":
            out[w] = True
            i += 1
            continue
        arg = words[i + 1]
        if w == "except":
            try:
                out[w] = ipaddress.ip_network(arg, strict=False)
            except ValueError:
                raise ValueError(f"'option {name}' : invalid network '{arg}'") from None
        else:
            out[w] = arg
        i += 2
    return out
