"""Value syntaxes shared by keywords: times (§2.5), sizes, integers, addresses.

Each parser returns the value or raises ``ConfigError`` worded as HAProxy.
"""

from __future__ import annotations

import ipaddress
import re

from pyhaproxy.config.model import Address
from pyhaproxy.config.registry import ConfigError

_TIME_UNITS = {"us": 0.001, "ms": 1, "": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
TIME_MAX_MS = 2**31 - 1


def parse_time(text: str, what: str) -> int:
    """``10s`` → 10000 (milliseconds).  ``what`` names the keyword in errors."""
    m = re.fullmatch(r"(\d+)(.*)", text)
    if not text or not m:
        if not text:
            raise ConfigError(f"'{what}' expects an integer value (in milliseconds)")
        raise ConfigError(f"unexpected character '{text[0]}' in '{what}'")
    digits, unit = m.groups()
    if unit not in _TIME_UNITS:
        bad = unit[0] if unit[:1] not in ("u", "m") else unit[-1]
        raise ConfigError(f"unexpected character '{bad}' in '{what}'")
    value = int(int(digits) * _TIME_UNITS[unit])
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


def parse_uint(text: str, what: str, message: str | None = None) -> int:
    if not re.fullmatch(r"\d+", text or ""):
        raise ConfigError(message or f"'{what}' expects an integer argument.")
    return int(text)


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
    offset = False
    if allow_offset and spec[:1] in "+-":
        offset, spec = True, spec[1:]
    low_s, _, high_s = spec.partition("-") if allow_range else (spec, "", "")
    for part in (low_s, high_s) if high_s else (low_s,):
        bad = next((c for c in part if not c.isdigit()), None)
        if bad is not None or not part:
            if bad is None:
                raise ConfigError(f"missing port number in '{text}'")
            raise ConfigError(f"invalid character '{bad}' in port number '{spec}' in '{text}'")
    low = int(low_s)
    high = int(high_s) if high_s else low
    if not offset and (low > 65535 or high > 65535 or (low == 0 and allow_range)):
        raise ConfigError(f"invalid port '{spec}'")
    if high < low:
        raise ConfigError(f"invalid port range '{spec}'")
    return low, high, offset


def parse_address(text: str, *, listen: bool, port_required: bool) -> Address:
    """Parse ``[family@]addr[:port[-end]]`` as HAProxy's str2sa_range does.

    ``listen`` allows port ranges and ``*``/empty hosts; servers allow
    ``+N``/``-N`` port offsets and a missing port."""
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
    if host in ("*", "") or host in ("0.0.0.0", "::"):
        if not listen and host in ("*", ""):
            raise ConfigError(f"invalid address: '{text}'")
        host = "" if host in ("*",) else host
    if not family:
        family = "ipv6" if ":" in host else "ipv4"
    if not has_port or portspec == "":
        if port_required:
            raise ConfigError(f"missing port specification in '{text}'")
        return Address(family, host, text=text)
    low, high, offset = _port_range(portspec, text, allow_range=listen, allow_offset=not listen)
    return Address(family, host, low, high, offset, text)


def check_host(addr: Address, text: str) -> None:
    """Numeric addresses must be valid; names are resolved at start-up."""
    if addr.family in ("ipv4", "ipv6") and addr.host:
        try:
            ipaddress.ip_address(addr.host)
        except ValueError:
            if re.fullmatch(r"[0-9.]+", addr.host) or not re.fullmatch(
                r"[A-Za-z0-9._-]+", addr.host
            ):
                raise ConfigError(f"invalid address: '{addr.host}' in '{text}'") from None


NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def invalid_char(name: str) -> str | None:
    """The first character HAProxy refuses in an object name, if any."""
    return next((ch for ch in name if ch not in NAME_CHARS), None)
