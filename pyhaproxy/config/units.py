"""Value syntaxes shared by keywords: times (§2.5), sizes, integers, addresses.

Each parser returns the value or raises ``ConfigError`` worded as HAProxy.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

from pyhaproxy.config.model import Address
from pyhaproxy.config.registry import ConfigError

_TIME_UNITS = {"us": 0.001, "ms": 1, "": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
TIME_MAX_MS = 2**31 - 1


_TIME_UNIT = re.compile(r"us|ms|m|s|h|d|")


def parse_time(text: str, what: str, warn: Callable[[str], None] | None = None) -> int:
    """``10s`` → 10000 (milliseconds).  ``what`` names the keyword in errors.

    As HAProxy 2.6, characters left after a valid unit (``30sec``, ``1m5s``)
    only earn a warning, passed to ``warn``; the value stops at the unit."""
    m = re.match(r"\d+", text)
    if not m:
        if not text:
            raise ConfigError(f"'{what}' expects an integer value (in milliseconds)")
        raise ConfigError(f"unexpected character '{text[0]}' in '{what}'")
    rest = text[m.end() :]
    unit_m = _TIME_UNIT.match(rest)
    unit = unit_m.group() if unit_m else ""
    trailing = rest[len(unit) :]
    if trailing and not unit:
        raise ConfigError(f"unexpected character '{trailing[0]}' in '{what}'")
    if trailing and warn is not None:
        warn(
            f"unexpected character '{trailing[0]}' after the timer value '{text}', only "
            "(us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are "
            "supported. This will be reported as an error in next versions."
        )
    count = int(m.group())
    # microseconds round up: "1us" is 1 ms, never a zero timeout
    value = -(-count // 1000) if unit == "us" else int(count * _TIME_UNITS[unit])
    if value > TIME_MAX_MS:
        raise ConfigError(
            f"timer overflow in argument '{text}' to '{what}' (maximum value is 2147483647 ms or ~24.8 days)"
        )
    return value


def parse_size(text: str, what: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", text or "")
    if not m:
        raise ConfigError(f"'{what}' expects a positive integer argument.")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


def atol(text: str, what: str = "", warn: Callable[[str], None] | None = None) -> int:
    """C's ``atol()``: blanks, a sign and digits; what follows is ignored and
    a word without digits reads as 0.  HAProxy 2.6 reads most counts so; we
    read them the same (same verdict) but say so in a warning."""
    m = re.match(r"[ \t\n\v\f\r]*([+-]?\d+)", text)
    value = int(m.group(1)) if m else 0
    if warn is not None and text and not re.fullmatch(r"[+-]?\d+", text):
        warn(f"'{what}' : '{text}' is not an integer; it is read as {value}, as HAProxy does.")
    return value


def parse_uint(
    text: str, what: str, message: str | None = None, warn: Callable[[str], None] | None = None
) -> int:
    """An integer read as HAProxy does (``atol``): only a missing value is an
    error, ``12x`` is 12 and ``abc`` is 0 (with a warning); callers check the
    range."""
    if not text:
        raise ConfigError(message or f"'{what}' expects an integer argument.")
    return atol(text, what, warn)


_PREFIXES = {
    "ipv4@": "ipv4",
    "ipv6@": "ipv6",
    "unix@": "unix",
    "abns@": "abns",
    "fd@": "fd",
    "sockpair@": "sockpair",
    "udp@": "udp",
    "udp4@": "udp",
    "udp6@": "udp",
    "tcp@": "tcp",
    "tcp4@": "ipv4",
    "tcp6@": "ipv6",
    "stream+": "",
}


def _port_range(
    spec: str, text: str, allow_range: bool, allow_offset: bool
) -> tuple[int, int, bool]:
    """``port[-end]`` or ``+N``/``-N``: like HAProxy (strtol), a port must
    start with a digit and what follows its digits is ignored."""
    offset = False
    sign = 1
    if allow_offset and spec[:1] in "+-":
        offset, sign, spec = True, -1 if spec[0] == "-" else 1, spec[1:]
    m = re.match(r"\d+", spec)
    if not m:
        if not spec:
            raise ConfigError(f"missing port number in '{text}'")
        raise ConfigError(f"invalid character '{spec[0]}' in port number '{spec}' in '{text}'")
    low = high = int(m.group())
    rest = spec[m.end() :]
    if rest.startswith("-") and not offset:
        if not allow_range:
            raise ConfigError(f"port range not permitted here in '{text}'")
        m2 = re.match(r"\d+", rest[1:])
        if not m2:
            bad = rest[1:2] or "-"
            raise ConfigError(f"invalid character '{bad}' in port number '{spec}' in '{text}'")
        high = int(m2.group())
    if not offset and (low > 65535 or high > 65535 or (low == 0 and allow_range)):
        raise ConfigError(f"invalid port '{spec}'")
    if high < low:
        raise ConfigError(f"invalid port range '{spec}'")
    if offset:  # a signed offset from the port the client connected to
        low = high = sign * low
    return low, high, offset


def parse_address(
    text: str, *, listen: bool, port_required: bool, allow_offset: bool | None = None
) -> Address:
    """Parse ``[family@]addr[:port[-end]]`` as HAProxy's str2sa_range does.

    ``listen`` allows port ranges; servers allow ``+N``/``-N`` port offsets
    (unless ``allow_offset`` is False: log and source addresses) and a
    missing port."""
    family = ""
    rest = text
    for prefix, fam in _PREFIXES.items():
        if rest.startswith(prefix):
            family, rest = fam, rest[len(prefix) :]
            break
    if family in ("udp", "sockpair", "tcp"):
        if family == "tcp":
            family = ""
        else:
            raise ConfigError(f"'{text}' : address family not supported yet by pyhaproxy")
    if family == "fd":
        if not rest.isdigit():
            raise ConfigError(f"file descriptor '{rest}' is not a valid integer in '{text}'")
        return Address("fd", rest, text=text)
    if family in ("unix", "abns") or (not family and rest.startswith("/")):
        return Address(family or "unix", rest, text=text)
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ConfigError(f"invalid address: '{text}'")
        host, portspec = rest[1:end], rest[end + 1 :]
        if portspec and not portspec.startswith(":"):
            raise ConfigError(f"invalid address: '{text}'")
        portspec = portspec[1:] if portspec else ""
        has_port = bool(rest[end + 1 :])
    elif rest.count(":") > 1 and family != "ipv4":
        # IPv6 without brackets: the port follows the last colon
        host, _, portspec = rest.rpartition(":")
        has_port = True
        try:
            ipaddress.IPv6Address(rest)
            host, portspec, has_port = rest, "", False
        except ValueError:
            pass
    else:
        host, sep, portspec = rest.partition(":")
        has_port = bool(sep)
    if host == "*":
        host = ""
    if not family:
        family = "ipv6" if ":" in host else "ipv4"
    if not has_port or portspec == "":
        if port_required:
            raise ConfigError(f"missing port specification in '{text}'")
        return Address(family, host, text=text)
    if allow_offset is None:
        allow_offset = not listen
    if not listen and not allow_offset and portspec[:1] in ("+", "-"):
        raise ConfigError(f"port offset not permitted here in '{text}'")
    low, high, offset = _port_range(portspec, text, allow_range=listen, allow_offset=allow_offset)
    return Address(family, host, low, high, offset, text)


def is_ip_literal(addr: Address) -> bool:
    """A numeric address (``inet_aton`` forms such as ``1.2.3`` included)."""
    if addr.family not in ("ipv4", "ipv6") or not addr.host:
        return True
    try:
        ipaddress.ip_address(addr.host)
        return True
    except ValueError:
        pass
    if addr.family == "ipv4":
        try:
            socket.inet_aton(addr.host)
            return True
        except OSError:
            return False
    return False


def parse_peer_address(text: str) -> Address:
    """A ``log`` target or a ``source`` address: no port range nor offset, and
    a host name must resolve now (HAProxy resolves them while parsing)."""
    addr = parse_address(text, listen=False, port_required=False, allow_offset=False)
    if not is_ip_literal(addr):
        try:
            socket.getaddrinfo(addr.host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise ConfigError(f"invalid address: '{addr.host}' in '{text}'") from None
    return addr


NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def invalid_char(name: str) -> str | None:
    """The first character HAProxy refuses in an object name, if any."""
    return next((ch for ch in name if ch not in NAME_CHARS), None)
