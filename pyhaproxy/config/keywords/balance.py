"""`balance`, `hash-type`, `hash-balance-factor` (configuration.txt §4.2).

The syntax HAProxy 2.6 accepts, with its messages (backend.c
``backend_parse_balance``: prefixes are matched as HAProxy matches them,
numbers read as ``atoi``/``strtol`` read them); the first word is stored in
its canonical form (``random(3)``, ``hdr(name)``, ``rdp-cookie(mstshash)``)
for ``pyhaproxy/lb/`` (one module per algorithm).  ``url_param NAME
check_post`` is accepted as HAProxy 2.6 accepts it: the modifier changes
nothing there (a POST body is searched for the parameter either way).
``balance rdp-cookie`` hashes the client's first bytes: the frontend waits
for them with ``tcp-request inspect-delay`` and ``tcp-request content
accept if RDP_COOKIE`` (dataplane/tcp.py), as configuration.txt says.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pyhaproxy.config.model import BACKEND
from pyhaproxy.config.registry import ConfigError, keyword
from pyhaproxy.lb.base import atoi

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

ALGORITHMS = (
    "roundrobin",
    "static-rr",
    "leastconn",
    "first",
    "source",
    "uri",
    "url_param",
    "hdr",
    "rdp-cookie",
    "random",
)
_USAGE = (
    "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', "
    "'url_param', 'hdr(name)' and 'rdp-cookie(name)' options."
)


def _strtol(text: str) -> tuple[int, str]:
    """C's ``strtol(text, &end, 0)``: (value, the text left after it)."""
    m = re.match(r"[ \t\n\r\f\v]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)", text)
    if not m:
        return 0, text
    sign, digits = m.groups()
    if digits[:2].lower() == "0x":
        value = int(digits, 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    return -value if sign == "-" else value, text[m.end() :]


def _parse(words: list[str]) -> str:
    """The canonical first word of ``balance WORDS`` (ConfigError if
    HAProxy 2.6 refuses the line), as backend_parse_balance reads it."""
    arg = words[0]
    if arg in ("roundrobin", "static-rr", "first", "leastconn", "source"):
        return arg  # further words are ignored
    if arg.startswith("random"):
        draws = 2
        if arg[6:7] == "(" and arg[7:8] != ")":
            draws, end = _strtol(arg[7:])
            if end[:1] != ")":
                if not end:
                    raise ConfigError("balance random : missing closing parenthesis.")
                raise ConfigError(
                    f"balance random : unexpected character '{end[0]}' after argument."
                )
            if draws < 1:
                raise ConfigError("balance random : number of draws must be at least 1.")
        return f"random({draws})"
    if arg == "uri":
        rest = words[1:]
        i = 0
        while i < len(rest):
            opt = rest[i]
            if opt in ("len", "depth"):
                value = rest[i + 1] if i + 1 < len(rest) else ""
                if atoi(value) <= 0:
                    raise ConfigError(
                        f"balance uri : '{opt}' expects a positive integer (got '{value}')."
                    )
                i += 2
            elif opt in ("whole", "path-only"):
                i += 1
            else:
                raise ConfigError(
                    "balance uri only accepts parameters 'len', 'depth', 'path-only', "
                    f"and 'whole' (got '{opt}')."
                )
        return arg
    if arg == "url_param":
        if len(words) < 2 or not words[1]:
            raise ConfigError("balance url_param requires an URL parameter name.")
        if len(words) > 2 and words[2] != "check_post":
            raise ConfigError(
                f"balance url_param only accepts 'check_post' modifier (got '{words[2]}')."
            )
        return arg
    if arg.startswith("hdr("):
        end = arg.find(")", 4)
        if end <= 4:
            raise ConfigError("balance hdr requires an http header field name.")
        if len(words) > 1 and words[1] != "use_domain_only":
            raise ConfigError(
                f"balance {arg} only accepts 'use_domain_only' modifier (got '{words[1]}')."
            )
        return arg[: end + 1]
    if arg.startswith("rdp-cookie"):
        if arg[10:11] == "(":
            end = arg.find(")", 11)
            if end <= 11:
                raise ConfigError("balance rdp-cookie : missing cookie name.")
            return arg[: end + 1]
        if arg[10:]:
            raise ConfigError("balance rdp-cookie : missing cookie name.")
        return "rdp-cookie(mstshash)"
    raise ConfigError(_USAGE)


@keyword("balance", sections=("defaults", "proxy"), cap=BACKEND, implemented=True)
def _balance(ctx: Context) -> None:
    words = list(ctx.words[1:])
    if not words or not words[0]:
        return  # HAProxy 2.6 accepts a bare 'balance' and keeps the algorithm
    words[0] = _parse(words)
    ctx.settings.balance = tuple(words)


@keyword("hash-type", sections=("defaults", "proxy"), cap=BACKEND, implemented=True)
def _hash_type(ctx: Context) -> None:
    args = list(ctx.words[1:])
    if not args or args[0] not in ("map-based", "consistent"):
        raise ConfigError("'hash-type' only supports 'consistent' and 'map-based'.")
    # HAProxy 2.6 has no 'none' function (it came with 2.7's 'balance hash')
    if len(args) > 1 and args[1] not in ("sdbm", "djb2", "wt6", "crc32"):
        raise ConfigError(
            "'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions."
        )
    if len(args) > 2 and args[2] != "avalanche":
        raise ConfigError("'hash-type' only supports 'avalanche' as a modifier for hash functions.")
    ctx.settings.hash_type = tuple(args[:3])


@keyword("hash-balance-factor", sections=("defaults", "proxy"), cap=BACKEND, implemented=True)
def _hbf(ctx: Context) -> None:
    if len(ctx.words) < 2 or not ctx.words[1]:
        raise ConfigError("'hash-balance-factor' expects an integer argument.")
    value = atoi(ctx.words[1])
    if value != 0 and value <= 100:
        raise ConfigError("'hash-balance-factor' must be 0 or greater than 100.")
    ctx.settings.extra["hash-balance-factor"] = value
