"""Payload fetches of the request buffer (configuration.txt §7.3.5
"Fetching samples from buffer contents (Layer 6)"), HAProxy's payload.c:

- ``req.len`` / ``req_len``: the bytes received so far (always "may change");
- ``req.rdp_cookie([NAME])`` / ``rdp_cookie``: the value of the RDP cookie
  NAME (any name if omitted) in an X.224 Connection Request;
- ``req.rdp_cookie_cnt([NAME])`` / ``rdp_cookie_cnt``: 1 if there is one,
  0 if the buffer is not such a request, no sample while it is too short.

They read a ``ContentView``; while it is not ``final`` a fetch whose answer
may change with more data sets ``view.change`` (SMP_F_MAY_CHANGE), which the
ACL engine turns into "wait" (``acl.py``).  On a complete HTTP request
(``RequestView``, always final) they read the request head bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyhaproxy.sample.fetch import FETCHES, Fetch, RequestView

LAYER_CONTENT = 5  # the request buffer's contents (acl.py layers: 4 < 5 < 7)

TOO_SHORT, NOT_COOKIE = -1, 0


def rdp_cookie(data: bytes, name: bytes) -> tuple[int, bytes]:
    """HAProxy's fetch_rdp_cookie_name: (1, value) when ``data`` holds,
    after the 11 bytes of the TPKT and X.224 headers, ``Cookie:`` (any
    case), spaces, ``NAME=`` (any case; any name when ``name`` is empty)
    and a value ended by CRLF; ``(TOO_SHORT, b"")`` when more bytes could
    still make it one, ``(NOT_COOKIE, b"")`` when they cannot."""
    n = len(data)
    if n <= 11 + 7:
        return TOO_SHORT, b""
    if data[11:18].lower() != b"cookie:":
        return NOT_COOKIE, b""
    i = 18
    while i < n and data[i] == 0x20:
        i += 1
    clen = len(name)
    if clen:
        if n - i <= clen:
            return TOO_SHORT, b""
        if data[i + clen] != 0x3D or data[i : i + clen].lower() != name:
            return NOT_COOKIE, b""
        i += clen + 1
    else:
        while i < n and data[i] != 0x3D:
            if data[i] in (0x0D, 0x0A):
                return NOT_COOKIE, b""
            i += 1
        if i >= n:
            return TOO_SHORT, b""
        i += 1
    start = i
    cr = data.find(b"\r", start)
    if cr < 0 or n - cr < 2:
        return TOO_SHORT, b""
    if data[cr + 1] != 0x0A:
        return NOT_COOKIE, b""
    return 1, data[start:cr]


def _len(arg: str | None) -> Callable[[RequestView], list[Any]]:
    def fetch(v: RequestView) -> list[Any]:
        if not v.final:
            v.change = True
        return [len(v.raw)]

    return fetch


def _rdp_cookie(arg: str | None) -> Callable[[RequestView], list[Any]]:
    name = (arg or "").lower().encode("latin-1")

    def fetch(v: RequestView) -> list[Any]:
        found, value = rdp_cookie(v.raw, name)
        if not v.final:
            v.change = found == TOO_SHORT
        return [value.decode("latin-1")] if found == 1 else []

    return fetch


def _rdp_cookie_cnt(arg: str | None) -> Callable[[RequestView], list[Any]]:
    name = (arg or "").lower().encode("latin-1")

    def fetch(v: RequestView) -> list[Any]:
        found, _ = rdp_cookie(v.raw, name)
        if found == TOO_SHORT:  # no sample, final or not
            if not v.final:
                v.change = True
            return []
        if not v.final:
            v.change = False
        return [found]

    return fetch


for _name, _build, _match in (
    ("req.len", _len, "int"),
    ("req_len", _len, "int"),
    ("req.rdp_cookie", _rdp_cookie, "str"),
    ("rdp_cookie", _rdp_cookie, "str"),
    ("req.rdp_cookie_cnt", _rdp_cookie_cnt, "int"),
    ("rdp_cookie_cnt", _rdp_cookie_cnt, "int"),
):
    FETCHES[_name] = Fetch(_build, "" if _build is _len else "opt", LAYER_CONTENT, _match)
