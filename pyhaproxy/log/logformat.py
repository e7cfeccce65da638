"""The log-format language, compiled once into one Python function
(configuration.txt §8.2.4 "Custom log format").

``compile_format(text, captures)`` parses ``log-format`` text — literal text,
``%%``, space separators, ``%<var>``, ``%{<flags>}<var>``, ``%[<sample>]``,
``%{+Q}o`` setting flags for what follows — and generates the source of one
function ``render(s, L) -> str`` (an f-string), compiled with ``compile()``.
``s`` is the stream (``HttpSession``/``TcpSession``: the attributes listed in
``STREAM_FACTS``), ``L`` the frontend's ``ProxyLog`` (counters, pid, host).

Invariants, as HAProxy's ``sess_build_logline``:
- consecutive separators print one space; a variable known at compile time
  to print nothing (``%hr`` without captures) does not count as text;
- a missing string prints ``-`` (``""`` with ``+Q``), a missing number ``-1``
  for timers; ``+Q`` quotes strings (not numbers), ``+X`` prints numbers and
  addresses in upper-case hex, ``+E`` escapes ``"``, ``\\`` and ``]``;
- non-printable bytes and ``"`` of the request line and captured headers
  print as ``#XX`` (HAProxy's encode maps).

Timers are milliseconds between the monotonic instants the data plane
records (``t_*``, 0.0 when not reached; -1 then, as HAProxy).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from typing import Any

from pyhaproxy.sample import FETCHES, RequestView
from pyhaproxy.sample.ssl_fetches import log_sslc, log_sslv

__all__ = [
    "FormatError",
    "compile_format",
    "HTTPLOG",
    "HTTPLOG_CLF",
    "HTTPSLOG",
    "TCPLOG",
    "STREAM_FACTS",
    "LOG_SLOTS",
]

# configuration.txt §8.2.3 and §8.2.2, §8.2.4 "option httplog clf"
HTTPLOG = (
    "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc "
    "%ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
)
HTTPLOG_CLF = (
    '%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta '
    "%tsc %ac %fc %bc %sc %rc %sq %bq %cc %cs %hrl %hsl"
)
TCPLOG = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
# §8.2.4 "HTTPS log format": httplog, then the connection's TLS facts
HTTPSLOG = (
    HTTPLOG + " %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] "
    "%[ssl_fc_sni]/%sslv/%sslc"
)

STREAM_FACTS = (
    "transport",  # client transport (addresses)
    "addrs",  # (peername, sockname) taken at accept (``ProxyLog.begin``), if set
    "fe",  # FrontendRT
    "be",  # BackendRT or None
    "log_srv",  # ServerRT that served the stream, or None
    "t_accept",  # loop time of the accept
    "t_request",  # first byte of the request (HTTP) / accept (TCP)
    "t_head",  # request head complete
    "t_queue",  # server assigned (end of queueing)
    "t_connect",  # server connection established (or reused)
    "t_response",  # response head received
    "status",  # HTTP status sent to the client (0: none)
    "queued",  # queue length when the stream was queued (%bq), else 0
    "bytes_in",  # bytes received from the client
    "bytes_out",  # bytes sent to the client
    "term",  # two-character termination state, "" when normal
    "tries",  # failed connect attempts
    "req_head",  # raw request head (HTTP), or None
    "rsp_head",  # raw response head (HTTP), or None
)
# the slots a stream class adds for its log line: the facts it does not hold anyway
LOG_SLOTS = tuple(f for f in STREAM_FACTS if f not in ("transport", "fe", "be", "tries"))


class FormatError(Exception):
    """A log-format that does not parse; text as HAProxy's."""


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ---- helpers available to generated code --------------------------------------


def _ms(a: float, b: float) -> int:
    return int((b - a) * 1000) if a and b else -1


_date_cache: list = [-1, ""]


def _date(wall: float, ms: bool) -> str:
    """``dd/Mmm/yyyy:HH:MM:SS[.mmm]`` in local time, cached per second."""
    sec = int(wall)
    cache = _date_cache
    if cache[0] != sec:
        tm = time.localtime(sec)
        cache[1] = (
            f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
        )
        cache[0] = sec
    return f"{cache[1]}.{int((wall - sec) * 1000):03d}" if ms else cache[1]


def _zdate(wall: float, gmt: bool) -> str:
    tm = time.gmtime(wall) if gmt else time.localtime(wall)
    off = 0 if gmt else (tm.tm_gmtoff or 0) // 60
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return (
        f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {sign}{off // 60:02d}{off % 60:02d}"
    )


def _peer(s: Any, which: str) -> Any:
    t = s.transport
    return t.get_extra_info(which) if t is not None else None


def _addrs(s: Any) -> tuple[Any, Any]:
    """(peername, sockname): as taken at accept (a reset connection has no
    peer any more, and each lookup is a system call), else from the transport."""
    a = getattr(s, "addrs", None)
    if a is not None:
        return a
    return _peer(s, "peername"), _peer(s, "sockname")


def _ip(info: Any) -> str | None:
    if not info:
        return None
    if isinstance(info, str):  # unix socket
        return "unix"
    return info[0]


def _port(info: Any) -> int | None:
    if not info or isinstance(info, str):
        return None
    return info[1]


_ENC = {c: f"#{c:02X}" for c in [*range(32), *range(127, 256), ord('"')]}
_HDR_ENC = {**_ENC, ord("{"): "#7B", ord("|"): "#7C", ord("}"): "#7D"}


_NEEDS_ENC = re.compile(r'[\x00-\x1f"\x7f-\xff]')


def _enc(text: str, table: dict[int, str] = _ENC) -> str:
    if table is _ENC and _NEEDS_ENC.search(text) is None:
        return text  # the usual case: nothing to encode
    return text.translate(table)


def _line(s: Any) -> str | None:
    head = s.req_head
    if not head:
        return None
    end = head.find(b"\r\n")
    return head[: end if end >= 0 else len(head)].decode("latin-1")


def _parts(s: Any) -> list[str]:
    line = _line(s)
    return line.split(" ") if line else []


def _uri(s: Any) -> str | None:
    p = _parts(s)
    return p[1] if len(p) > 1 else None


def _path(s: Any, only: bool) -> str | None:
    uri = _uri(s)
    if uri is None:
        return None
    q = uri.find("?")
    path = uri if q < 0 else uri[:q]
    if only and path[:1] not in ("/", "*"):
        scheme = path.find("://")
        if scheme >= 0:
            slash = path.find("/", scheme + 3)
            path = path[slash:] if slash >= 0 else "/"
    return path


def _query(s: Any) -> str | None:
    uri = _uri(s)
    if uri is None:
        return None
    q = uri.find("?")
    return uri[q:] if q >= 0 else ""


def _captures(head: bytes | None, names: tuple[tuple[str, int], ...]) -> list[str]:
    """Values of the captured headers (first occurrence, truncated)."""
    if not head:
        return [""] * len(names)
    view = RequestView(head)
    out = []
    for name, length in names:
        vals = view.headers.get(name)
        out.append(_enc(vals[0][:length], _HDR_ENC) if vals else "")
    return out


def _htx_delta(raw: bytes | None) -> int:
    """HAProxy counts %B and %U in its internal HTX representation: a
    20-byte start-line descriptor plus the three start-line parts, each
    header's name and value (``Connection`` is consumed by the H1 parser), a
    one-byte end-of-headers block, then the body.  The difference between
    that and the head's wire size."""
    if not raw:
        return 0
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return 0
    nl = raw.count(b"\r\n", 0, end)
    if raw.count(b": ", 0, end) == nl:
        # the usual head, "Name: value" lines: 20 + 1 - the two start-line
        # spaces, each line's ": " and CRLF, the final CRLF
        delta = 15 - 4 * nl
        k = raw.find(b"onnection:", 0, end)
        if k < 0 and raw.find(b"ONNECTION", 0, end) < 0:
            return delta
        if k >= 0 and raw.find(b"ONNECTION", 0, end) < 0:
            # "Connection:" / "connection:" at a line start, without lower()
            while k >= 0:
                if raw[k - 1 : k] in (b"C", b"c") and raw[k - 3 : k - 1] == b"\r\n":
                    j = raw.find(b"\r\n", k)
                    delta -= (j if 0 <= j < end else end) - k - 1  # its name and value
                k = raw.find(b"onnection:", k + 10, end)
            return delta
        low = raw[:end].lower()
        i = low.find(b"\r\nconnection:")
        while i >= 0:
            j = low.find(b"\r\n", i + 2)
            delta -= (j if j >= 0 else end) - i - 4  # its name and value
            i = low.find(b"\r\nconnection:", i + 2)
        return delta
    lines = raw[:end].split(b"\r\n")
    size = 20 + len(lines[0]) - 2 + 1
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip()
        if name.lower() != b"connection":
            size += len(name) + len(value.strip())
    return size - (end + 4)


def _ci(pn: Any) -> str:
    """``%ci`` unquoted: ``_dash(_ip(pn))`` in one call (on every line)."""
    if pn.__class__ is tuple and pn:
        return pn[0]
    return "unix" if pn and isinstance(pn, str) else "-"


def _cp(pn: Any) -> str:
    """``%cp`` unquoted: ``_dash(_port(pn))`` in one call."""
    return str(pn[1]) if pn.__class__ is tuple and pn else "-"


def _qline(s: Any) -> str:
    """``%{+Q}r``: the request line, encoded, quoted."""
    line = _line(s)
    return f'"{_enc(line)}"' if line else '"<BADREQ>"'


def _srvname(s: Any) -> str:
    srv = s.log_srv
    if srv is not None:
        return srv.name
    return "<NOSRV>"


def _ftname(s: Any) -> str:
    """``%ft``: the frontend's name, with HAProxy's ``~`` on a TLS connection."""
    t = s.transport
    if t is not None and t.get_extra_info("ssl_object") is not None:
        return s.fe.name + "~"
    return s.fe.name


def _bename(s: Any) -> str:
    """The backend, once the request was routed (HAProxy logs the frontend
    before that: ``fe/<NOSRV>``)."""
    be = s.be
    if be is None:
        return s.fe.name
    if s.fe.mode != "http" or s.t_head and s.term not in ("LR", "PR"):
        return be.name
    return s.fe.name  # answered by the frontend itself


def _hex_ip(ip: str | None) -> str | None:
    if ip is None:
        return None
    try:
        return f"{int(ipaddress.ip_address(ip)):0{8 if ':' not in ip else 32}X}"
    except ValueError:
        return ip


def _inline_ms(a: str, b: str) -> str:
    """The expression of ``_ms(a, b)``, inlined (timers are on every line)."""
    return f"(int(({b} - {a}) * 1000) if {a} and {b} else -1)"


# ---- variables ----------------------------------------------------------------
# name → (kind, expression); kind: "s" string or None, "str" string never
# None, "n" number, "ip", "port", "raw" already formatted (dates, lists:
# never quoted)

_VARS: dict[str, tuple[str, str]] = {
    "B": ("n", "s.bytes_out + _htx_delta(s.rsp_head) if s.bytes_out else 0"),
    "U": ("n", "s.bytes_in + _htx_delta(s.req_head) if s.bytes_in else 0"),
    "CC": ("s", "None"),
    "CS": ("s", "None"),
    "cc": ("s", "None"),
    "cs": ("s", "None"),
    "H": ("s", "L.hostname"),
    "HM": ("s", "(_parts(s) or [None])[0]"),
    "HU": ("s", "_uri(s)"),
    "HP": ("s", "_path(s, False)"),
    "HPO": ("s", "_path(s, True)"),
    "HQ": ("s", "_query(s)"),
    "HV": ("s", "(_parts(s)[2:3] or [None])[0]"),
    "ID": ("s", "L.unique_id(s)"),
    "ST": ("n", "s.status or -1"),
    "T": ("raw", "_zdate(L.wall0 + s.t_accept, True)"),
    "Tl": ("raw", "_zdate(L.wall0 + s.t_accept, False)"),
    "t": ("raw", "_date(L.wall0 + s.t_accept, True)"),
    "tr": ("raw", "_date(L.wall0 + (s.t_request or s.t_accept), True)"),
    "trg": ("raw", "_zdate(L.wall0 + (s.t_request or s.t_accept), True)"),
    "trl": ("raw", "_zdate(L.wall0 + (s.t_request or s.t_accept), False)"),
    "Ts": ("n", "int(L.wall0 + s.t_accept)"),
    "ms": ("raw", "f'{int(((L.wall0 + s.t_accept) % 1) * 1000):03d}'"),
    "Th": ("n", "0"),
    "Ti": ("n", "_ms(s.t_accept, s.t_request) if s.t_request else 0"),
    "TR": ("n", _inline_ms("s.t_request", "s.t_head")),
    "Tq": ("n", _inline_ms("s.t_accept", "s.t_head")),
    "Tw": ("n", _inline_ms("(s.t_head or s.t_accept)", "s.t_queue")),
    "Tc": ("n", _inline_ms("s.t_queue", "s.t_connect")),
    "Tr": ("n", _inline_ms("s.t_connect", "s.t_response")),
    "Ta": ("n", _inline_ms("(s.t_request or s.t_accept)", "now")),
    "Tt": ("n", _inline_ms("s.t_accept", "now")),
    "Tu": ("n", "_ms(s.t_request or s.t_accept, now)"),
    "Td": ("n", "L.td(s, now)"),
    "ac": ("n", "L.actconn()"),
    "fc": ("n", "L.feconn(s)"),
    "bc": ("n", "(s.be.c.scur if s.be is not None else 0)"),
    "sc": ("n", "(s.log_srv.cur if s.log_srv is not None else 0)"),
    "rc": ("n", "min(s.tries, s.be.retries) if s.be is not None else s.tries"),
    "sq": ("n", "0"),
    "bq": ("n", "s.queued"),
    "b": ("str", "_bename(s)"),
    "f": ("str", "s.fe.name"),
    "ft": ("str", "_ftname(s)"),
    "s": ("str", "_srvname(s)"),
    "ci": ("ip", "_ip(pn)"),
    "cp": ("port", "_port(pn)"),
    "fi": ("ip", "_ip(sn)"),
    "fp": ("port", "_port(sn)"),
    "bi": ("ip", "L.server_addr(s, 'sockname', 0)"),
    "bp": ("port", "L.server_addr(s, 'sockname', 1)"),
    "si": ("ip", "(s.log_srv.host if s.log_srv is not None else None)"),
    "sp": ("port", "(s.log_srv.port if s.log_srv is not None else None)"),
    "lc": ("n", "L.log_count"),
    "rt": ("n", "L.log_count"),
    "pid": ("n", "L.pid"),
    "r": ("s", "_enc(_line(s) or '<BADREQ>')"),
    "ts": ("raw", "(s.term or '--')"),
    "tsc": ("raw", "(s.term or '--') + '--'"),
    "sslc": ("s", "log_sslc(s.transport)"),
    "sslv": ("s", "log_sslv(s.transport)"),
}
# variables only meaningful with HTTP (a warning in HAProxy for tcp proxies)
HTTP_ONLY = frozenset({"CC", "CS", "HM", "HU", "HP", "HPO", "HQ", "HV", "r", "tsc"})
_CAPTURE_VARS = ("hr", "hrl", "hs", "hsl")
_FLAGS = ("Q", "X", "E")


class _Node:
    __slots__ = ("kind", "text", "flags")

    def __init__(self, kind: str, text: str, flags: frozenset[str] = frozenset()) -> None:
        self.kind = kind  # "text", "sep", "var", "sample"
        self.text = text
        self.flags = flags


def _parse_flags(text: str, base: set[str]) -> set[str]:
    flags = set(base)
    i = 0
    while i < len(text):
        sign = text[i]
        name = text[i + 1 : i + 2]
        if sign not in "+-" or name not in _FLAGS:
            raise FormatError(f"unknown variable flag '{text[i:]}'")
        if sign == "+":
            flags.add(name)
        else:
            flags.discard(name)
        i += 2
    return flags


def parse(text: str) -> list[_Node]:
    """The nodes of a log-format string."""
    nodes: list[_Node] = []
    glob: set[str] = set()
    i, n = 0, len(text)
    lit: list[str] = []

    def flush() -> None:
        if lit:
            nodes.append(_Node("text", "".join(lit)))
            lit.clear()

    while i < n:
        c = text[i]
        if c == " ":
            flush()
            if not nodes or nodes[-1].kind != "sep":
                nodes.append(_Node("sep", " "))
            i += 1
            continue
        if c != "%":
            lit.append(c)
            i += 1
            continue
        if text[i + 1 : i + 2] == "%":
            lit.append("%")
            i += 2
            continue
        flush()
        i += 1
        flags = glob
        if text[i : i + 1] == "{":
            end = text.find("}", i)
            if end < 0:
                raise FormatError(f"missing '}}' after '%{{' in '{text}'")
            flags = _parse_flags(text[i + 1 : end], glob)
            i = end + 1
        if text[i : i + 1] == "[":
            end = text.find("]", i)
            if end < 0:
                raise FormatError(f"missing ']' after '%[' in '{text}'")
            nodes.append(_Node("sample", text[i + 1 : end], frozenset(flags)))
            i = end + 1
            continue
        j = i
        while j < n and text[j].isalpha():
            j += 1
        name = text[i:j]
        i = j
        if not name:
            raise FormatError(
                "no such format variable ''. If you wanted to emit the '%' character "
                "verbatim, you need to use '%%'"
            )
        if name == "o":
            glob = set(flags)
            continue
        if name not in _VARS and name not in _CAPTURE_VARS:
            raise FormatError(
                f"no such format variable '{name}'. If you wanted to emit the '%' character "
                "verbatim, you need to use '%%'"
            )
        nodes.append(_Node("var", name, frozenset(flags)))
    flush()
    return nodes


# ---- code generation ----------------------------------------------------------


def _fmt_value(kind: str, expr: str, flags: frozenset[str]) -> str:
    """A Python expression printing one variable as HAProxy does."""
    q = "Q" in flags
    if kind == "raw":
        return expr
    if kind == "str" and not flags & {"E", "Q"}:
        return expr
    if kind in ("s", "str"):
        if "E" in flags:
            expr = f"_esc({expr})"
        if q:
            return f"_qs({expr})"
        return f"_dash({expr})"
    if expr == "_ip(pn)" and not flags & {"X", "Q"}:
        return "_ci(pn)"
    if expr == "_port(pn)" and "X" not in flags:
        return "_cp(pn)"
    if expr == "_enc(_line(s) or '<BADREQ>')" and flags & {"Q", "E"} == {"Q"}:
        return "_qline(s)"
    if kind == "ip":
        if "X" in flags:
            expr = f"_hex_ip({expr})"
        return f"_qs({expr})" if q else f"_dash({expr})"
    if kind == "port":
        if "X" in flags:
            return f"_hexn({expr}, 4)"
        return f"_dash({expr})"
    if "X" in flags:
        return f"_hexn({expr}, 8)"
    return expr  # a number: formatted by the f-string


def _qs(v: Any) -> str:
    return '""' if v is None else f'"{v}"'


def _dash(v: Any) -> str:
    return "-" if v is None else str(v)


def _hexn(v: Any, width: int) -> str:
    return "-" if v is None else f"{int(v) & 0xFFFFFFFF:0{width}X}"


def _caps_braces(head: bytes | None, names: tuple, q: bool) -> str:
    """``%hr``/``%hs``: ``{v1|v2}`` (quoted with ``+Q``)."""
    text = "{" + "|".join(_captures(head, names)) + "}"
    return f'"{text}"' if q else text


def _caps_list(head: bytes | None, names: tuple, q: bool) -> str:
    """``%hrl``/``%hsl``: the values separated by spaces (each quoted with +Q)."""
    values = _captures(head, names)
    return " ".join(f'"{v}"' for v in values) if q else " ".join(values)


# expressions of variables that always print the same text
_CONSTANTS = {"_dash(None)": "-", "_qs(None)": '""', "0": "0"}


def _lit(text: str) -> str:
    """``text`` as literal f-string content (inside triple double quotes)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("{", "{{").replace("}", "}}")
    return out.replace("\n", "\\n").replace("\r", "\\r")


def _esc(v: str | None) -> str | None:
    if v is None:
        return None
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


# the ACL forms of a fetch (``path_beg``): a match, not a sample
_ACL_FORMS = ("_beg", "_end", "_sub", "_reg")


def _hex(v: Any) -> str:
    """The ``hex`` converter: an integer is cast to its 8 bytes (big
    endian) first, as HAProxy's int-to-binary cast; text to its bytes."""
    if isinstance(v, bool | int):
        return f"{int(v) & 0xFFFFFFFFFFFFFFFF:016X}"
    return str(v).encode("latin-1", "replace").hex().upper()


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "lower": lambda v: str(v).lower(),
    "upper": lambda v: str(v).upper(),
    "hex": _hex,
}


def _sample(expr: str) -> Callable[[Any], str | None]:
    """``%[fetch(arg),conv,...]`` over the request head (``sample/fetch.py``)."""
    parts = [p.strip() for p in expr.split(",")]
    head = parts[0]
    name, _, arg = head.partition("(")
    arg = arg[:-1] if arg.endswith(")") else arg
    fetch = FETCHES.get(name)
    if fetch is None or name.endswith(_ACL_FORMS):
        raise FormatError(f"sample fetch '{name}' is not implemented yet by pyhaproxy")
    get = fetch.build(arg or None)
    convs: list[Callable[[Any], Any]] = []
    for conv in parts[1:]:
        if conv not in _CONVERTERS:
            raise FormatError(f"converter '{conv}' is not implemented yet by pyhaproxy")
        convs.append(_CONVERTERS[conv])

    def run(s: Any) -> str | None:
        t = s.transport
        peer = t.get_extra_info if t is not None else None
        view = RequestView(s.req_head or b"", (lambda: peer("peername")) if peer else None, t)
        values = get(view)
        if not values:
            return None
        v = values[-1]
        for c in convs:
            v = c(v)
        return str(v)

    return run


def compile_format(
    text: str,
    req_captures: tuple[tuple[str, int], ...] = (),
    rsp_captures: tuple[tuple[str, int], ...] = (),
) -> Callable[[Any, Any, float], str]:
    """``render(s, L, now) -> str`` for ``text``; ``FormatError`` if invalid."""
    nodes = parse(text)
    env: dict[str, Any] = {
        "_ms": _ms,
        "_date": _date,
        "_zdate": _zdate,
        "_peer": _peer,
        "_addrs": _addrs,
        "_ip": _ip,
        "_port": _port,
        "_enc": _enc,
        "_line": _line,
        "_parts": _parts,
        "_uri": _uri,
        "_path": _path,
        "_query": _query,
        "_captures": _captures,
        "_srvname": _srvname,
        "_ci": _ci,
        "_cp": _cp,
        "_qline": _qline,
        "_htx_delta": _htx_delta,
        "_bename": _bename,
        "_ftname": _ftname,
        "log_sslv": log_sslv,
        "log_sslc": log_sslc,
        "_hex_ip": _hex_ip,
        "_qs": _qs,
        "_dash": _dash,
        "_hexn": _hexn,
        "_esc": _esc,
        "_caps_braces": _caps_braces,
        "_caps_list": _caps_list,
        "_RC": req_captures,
        "_SC": rsp_captures,
    }
    pieces: list[str] = []  # f-string parts: literal text, {expression}
    last_space = True  # nothing printed yet: a leading separator is dropped too
    first = True
    for node in nodes:
        if node.kind == "sep":
            if not last_space:
                pieces.append(" ")
                last_space = True
            continue
        if node.kind == "text":
            pieces.append(_lit(node.text))
            last_space = first = False
            continue
        if node.kind == "sample":
            key = f"_smp{len(env)}"
            env[key] = _sample(node.text)
            expr = _fmt_value("s", f"{key}(s)", node.flags)
        elif node.text in _CAPTURE_VARS:
            caps = "_RC" if node.text.startswith("hr") else "_SC"
            names = req_captures if caps == "_RC" else rsp_captures
            if not names:
                continue  # prints nothing: no capture configured
            head = "s.req_head" if caps == "_RC" else "s.rsp_head"
            helper = "_caps_list" if node.text.endswith("l") else "_caps_braces"
            expr = f"{helper}({head}, {caps}, {'Q' in node.flags})"
        else:
            kind, expr = _VARS[node.text]
            expr = _fmt_value(kind, expr, node.flags)
            if expr in _CONSTANTS:  # known now: literal text
                pieces.append(_CONSTANTS[expr])
                last_space = first = False
                continue
        pieces.append("{" + expr + "}")
        last_space = first = False
    del first
    body = "".join(pieces)
    # the client's and the frontend's addresses are fetched once
    uses = ("(pn)" in body, "(sn)" in body)
    pre = "    pn, sn = _addrs(s)\n" if any(uses) else ""
    src = f'def render(s, L, now):\n{pre}    return f"""{body}"""\n'
    code = compile(src, f"<log-format {text!r}>", "exec")
    exec(code, env)  # noqa: S102 - generated from the parsed nodes above
    render = env["render"]
    render.addrs = uses  # which addresses ``ProxyLog.begin`` takes at accept
    return render
