"""Sample fetches of the request (configuration.txt §7.3.6 "Fetching HTTP samples").

``RequestView`` wraps the raw bytes of a request head and materialises what a
fetch asks for, once: the request line always, the header block only when a
``hdr`` fetch (or a redirect needing ``Host``) runs (DESIGN.md rule 2).  A
fetch returns a list of strings (empty: no sample) or, for ``src``, an
``ipaddress`` object.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

__all__ = ["FETCHES", "ContentView", "Fetch", "RequestView"]


class RequestView:
    """The request as rules see it; built per request, parsed on demand."""

    __slots__ = ("raw", "peer", "conn", "_method", "_uri", "_version", "_headers", "_src")

    # a complete request: no fetch result may change (``ContentView``
    # overrides these for ``tcp-request content`` inspection)
    final = True
    miss = change = False

    def __init__(self, raw: bytes, peer: Callable[[], Any] | None = None, conn: Any = None) -> None:
        self.raw = raw
        self.peer = peer  # returns the client's (host, port, ...) when called
        # the client transport, read by connection fetches (ssl_fc...) only
        self.conn = conn
        self._method: str | None = None
        self._uri = self._version = ""
        self._headers: dict[str, list[str]] | None = None
        self._src: Any = None

    def _line(self) -> None:
        end = self.raw.find(b"\r\n")
        parts = self.raw[: end if end >= 0 else len(self.raw)].decode("latin-1").split(" ")
        self._method = parts[0]
        self._uri = parts[1] if len(parts) > 1 else ""
        self._version = parts[2] if len(parts) > 2 else ""

    @property
    def method(self) -> str:
        if self._method is None:
            self._line()
        return self._method  # type: ignore[return-value]

    @property
    def uri(self) -> str:
        if self._method is None:
            self._line()
        return self._uri

    @property
    def version(self) -> str:
        if self._method is None:
            self._line()
        return self._version

    @property
    def path(self) -> str:
        """The path part of the URI (absolute-form: after the authority)."""
        uri = self.uri
        if uri[:1] not in ("/", "*", ""):
            scheme = uri.find("://")
            if scheme >= 0:
                slash = uri.find("/", scheme + 3)
                uri = uri[slash:] if slash >= 0 else ""
        q = uri.find("?")
        return uri if q < 0 else uri[:q]

    @property
    def pathq(self) -> str:
        """Path and query (what a ``redirect prefix`` appends)."""
        path = self.path
        q = self.uri.find("?")
        return path if q < 0 else path + self.uri[q:]

    @property
    def query(self) -> str | None:
        q = self.uri.find("?")
        return None if q < 0 else self.uri[q + 1 :]

    @property
    def headers(self) -> dict[str, list[str]]:
        """Header values by lower-case name, one entry per occurrence."""
        hdrs = self._headers
        if hdrs is None:
            hdrs = self._headers = {}
            end = self.raw.find(b"\r\n\r\n")
            block = self.raw[: end if end >= 0 else len(self.raw)].decode("latin-1")
            for line in block.split("\r\n")[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    hdrs.setdefault(name.strip().lower(), []).append(value.strip())
        return hdrs

    @property
    def src(self) -> Any:
        if self._src is None and self.peer is not None:
            info = self.peer()
            if info:
                try:
                    self._src = ipaddress.ip_address(info[0])
                except ValueError:
                    self._src = None
        return self._src


class ContentView(RequestView):
    """The bytes a TCP client sent so far, as ``tcp-request content`` rules
    see them (configuration.txt §4.2 "tcp-request content").  ``final``:
    no more data will be waited for (HAProxy's SMP_OPT_FINAL); a payload
    fetch sets ``change`` when its result may still change with more data
    (SMP_F_MAY_CHANGE), and an expression that could not be decided yet
    sets ``miss`` (ACL_TEST_MISS)."""

    __slots__ = ("final", "miss", "change")

    def __init__(self, raw: bytes, peer: Callable[[], Any], conn: Any, final: bool) -> None:
        super().__init__(raw, peer, conn)
        self.final = final
        self.miss = self.change = False


def _path(arg: str | None) -> Callable[[RequestView], list[str]]:
    return lambda v: [v.path]


def _method(arg: str | None) -> Callable[[RequestView], list[str]]:
    return lambda v: [v.method]


def _url(arg: str | None) -> Callable[[RequestView], list[str]]:
    return lambda v: [v.uri]


def _hdr(arg: str | None) -> Callable[[RequestView], list[str]]:
    """``hdr([<name>])``: every comma-separated value of every occurrence."""

    def split(values: list[str]) -> list[str]:
        return [p.strip() for val in values for p in val.split(",")]

    if arg:
        name = arg.lower()
        return lambda v: split(v.headers.get(name, ()))  # type: ignore[arg-type]
    return lambda v: split([x for vals in v.headers.values() for x in vals])


def _url_param(arg: str | None) -> Callable[[RequestView], list[str]]:
    """``url_param([<name>])``: the first value of the parameter in the query."""

    def fetch(v: RequestView) -> list[str]:
        q = v.query
        if q is None:
            return []
        for part in q.split("&"):
            name, _, value = part.partition("=")
            if not arg or name == arg:
                return [value]
        return []

    return fetch


def _src(arg: str | None) -> Callable[[RequestView], list[Any]]:
    def fetch(v: RequestView) -> list[Any]:
        ip = v.src
        return [] if ip is None else [ip]

    return fetch


def _ver(arg: str | None) -> Callable[[RequestView], list[str]]:
    return lambda v: [v.version[5:]] if v.version.startswith("HTTP/") else []


class Fetch:
    """A fetch keyword: its builder, whether it takes an argument, the layer
    it needs (4: connection, 7: HTTP request) and its default match."""

    __slots__ = ("build", "arg", "layer", "match")

    def __init__(self, build: Callable, arg: str, layer: int, match: str) -> None:
        self.build = build
        self.arg = arg  # "" none, "opt" optional, "req" required
        self.layer = layer
        self.match = match


# ACL keywords (§7.3.6): fetch + implicit matching method ("path_beg" = path -m beg)
FETCHES: dict[str, Fetch] = {
    "path": Fetch(_path, "", 7, "str"),
    "url": Fetch(_url, "", 7, "str"),
    "method": Fetch(_method, "", 7, "str"),
    "req.ver": Fetch(_ver, "", 7, "str"),
    "req_ver": Fetch(_ver, "", 7, "str"),
    "hdr": Fetch(_hdr, "opt", 7, "str"),
    "req.hdr": Fetch(_hdr, "opt", 7, "str"),
    "url_param": Fetch(_url_param, "opt", 7, "str"),
    "urlp": Fetch(_url_param, "opt", 7, "str"),
    "src": Fetch(_src, "", 4, "ip"),
    # fc_err: the error of the client connection (§7.3.3).  Streams exist
    # only on connections established without error (a failed accept or
    # handshake closes the connection before any rule or log runs), so 0.
    "fc_err": Fetch(lambda arg: lambda v: [0], "", 4, "int"),
}
for _base in ("path", "url", "hdr", "url_param", "urlp"):
    for _m in ("beg", "end", "sub", "reg"):
        _f = FETCHES[_base]
        FETCHES[f"{_base}_{_m}"] = Fetch(_f.build, _f.arg, _f.layer, _m)
