"""`bind <addr>[,<addr>...] [options]` syntax (configuration.txt §4.2, §5.1)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from pyhaproxy.config.keywords.params import (
    FLAG,
    INT,
    NOT_NEGATIVE,
    STR,
    STRICT_POSITIVE,
    TIME,
    Param,
    as_file,
    as_int,
)
from pyhaproxy.config.keywords.ssl import BIND_TLS_OPTIONS, attach_bind
from pyhaproxy.config.model import FRONTEND, Bind
from pyhaproxy.config.registry import ConfigError, Table, keyword
from pyhaproxy.config.suggest import best_match
from pyhaproxy.config.units import parse_address

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

BIND_OPTIONS: Table[Param] = Table("bind option")


def _backlog(name: str, word: str, ctx: Context | None = None) -> int:
    value = as_int(name, word, ctx)
    if value < 0:  # 0 (and so "abc") passes in HAProxy 2.6, despite the message
        raise ConfigError(f"'{name}' : invalid value {value}, must be > 0")
    return value


for _n in (
    "accept-netscaler-cip",
    "accept-proxy",
    "allow-0rtt",
    "defer-accept",
    "expose-fd",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "generate-certificates",
    "no-ca-names",
    "no-sslv3",
    "no-tls-tickets",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "prefer-client-ciphers",
    "quic-force-retry",
    "ssl",
    "strict-sni",
    "tfo",
    "transparent",
    "v4v6",
    "v6only",
):
    BIND_OPTIONS.add(_n, FLAG)
for _n in (
    "alpn",
    "ca-ignore-err",
    "crt-ignore-err",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "interface",
    "level",
    "severity-output",
    "mode",
    "name",
    "namespace",
    "npn",
    "process",
    "proto",
    "quic-cc-algo",
    "shards",
    "ssl-max-ver",
    "ssl-min-ver",
    "thread",
    "user",
    "group",
    "verify",
    "ca-sign-pass",
    "tls-ticket-keys",
    "expose-fd",
):
    if _n not in BIND_OPTIONS.entries:
        BIND_OPTIONS.add(_n, STR)
for _n in ("mss", "nice", "uid", "gid"):
    BIND_OPTIONS.add(_n, INT)
BIND_OPTIONS.add("maxconn", NOT_NEGATIVE)
BIND_OPTIONS.add("backlog", Param(1, _backlog))
BIND_OPTIONS.add("id", STRICT_POSITIVE)
BIND_OPTIONS.add("tcp-ut", TIME)
# the crt-list file itself is not relative to crt-base (its lines are)
BIND_OPTIONS.add("crt-list", STR)
for _n in ("crt", "ca-file", "ca-verify-file", "ca-sign-file", "crl-file"):
    base = "crt-base" if _n.startswith("crt") else "ca-base"
    BIND_OPTIONS.add(_n, Param(1, as_file(base, _n not in ("ca-file", "crl-file"))))

# options the data plane acts on; the others refuse to start (pyhaproxy/dataplane/listeners.py)
IMPLEMENTED_OPTIONS = frozenset({"name", "backlog", "maxconn", "v4v6", "v6only"}) | BIND_TLS_OPTIONS

_USAGE = "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments."


def resolve_host(host: str, text: str) -> None:
    """Host names must resolve when the configuration is read, as in HAProxy."""
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ConfigError(f"could not resolve address '{host}' in '{text}'") from None


def parse_options(
    table: Table[Param],
    words: list[str],
    opts: dict,
    what: str,
    ctx: Context,
    missing_as_empty: bool = False,
) -> None:
    i = 0
    while i < len(words):
        name = words[i]
        spec = table.get(name)
        if spec is None:
            hint = best_match(name, table.names())
            suffix = f"; did you mean '{hint}' maybe ?" if hint else "."
            raise ConfigError(f"{what}unknown keyword '{name}'{suffix}")
        if spec.nargs and i + 1 >= len(words):
            if spec.check is None or not missing_as_empty:
                raise ConfigError(f"{what}'{name}' : missing value")
            words = [*words, ""]  # HAProxy reads a missing last argument as ""
        value = spec.check(name, words[i + 1], ctx) if spec.nargs and spec.check else True
        if spec.nargs == 0:
            value = True
        if name in ("crt",):
            opts.setdefault(name, []).append(value)
        else:
            opts[name] = value
        i += 1 + spec.nargs


@keyword("bind", sections=("proxy",), cap=FRONTEND, implemented=True)
def _bind(ctx: Context) -> None:
    spec = ctx.words[1] if len(ctx.words) > 1 else ""
    if not spec:
        raise ConfigError(_USAGE)
    addresses = []
    for part in spec.split(","):
        try:
            addr = parse_address(part, listen=True, port_required=True)
        except ConfigError as exc:
            raise ConfigError(f"'bind' : {exc.message}") from None
        if addr.family in ("ipv4", "ipv6") and addr.host:
            try:
                socket.inet_pton(
                    socket.AF_INET6 if addr.family == "ipv6" else socket.AF_INET, addr.host
                )
            except OSError:
                try:
                    socket.inet_aton(addr.host)
                except OSError:
                    try:
                        resolve_host(addr.host, part)
                    except ConfigError:
                        raise ConfigError(
                            f"'bind' : invalid address: '{addr.host}' in '{part}'"
                        ) from None
        addresses.append(addr)
    bind = Bind(ctx.where, addresses)
    try:
        parse_options(BIND_OPTIONS, list(ctx.words[2:]), bind.options, "", ctx)
    except ConfigError as exc:
        sep = ":" if exc.message.startswith("unknown keyword") else " :"
        raise ConfigError(f"'bind {spec}' in section '{ctx.section}'{sep} {exc.message}") from None
    attach_bind(ctx, spec, bind)
    for opt in bind.options:
        if opt not in IMPLEMENTED_OPTIONS:
            ctx.pending(f"bind {opt}")
    ctx.proxy.binds.append(bind)
