"""`server` and `default-server` syntax (configuration.txt §4.2, §5.2).

Errors are worded as HAProxy's: ``[FILE:LINE] : 'server BACKEND/NAME' : ...``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pyhaproxy.config.keywords.bind import parse_options
from pyhaproxy.config.keywords.params import (
    FLAG,
    INT,
    LONG,
    POSITIVE,
    STR,
    TIME,
    Param,
    as_file,
    as_int,
    as_long,
)
from pyhaproxy.config.keywords.ssl import SERVER_TLS_OPTIONS, attach_server
from pyhaproxy.config.model import BACKEND, Server
from pyhaproxy.config.registry import ConfigError, Table, keyword
from pyhaproxy.config.units import invalid_char, parse_address

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

SERVER_OPTIONS: Table[Param] = Table("server option")
# options the data plane acts on (pyhaproxy/dataplane/backend.py); others refuse to start
IMPLEMENTED_OPTIONS = (
    frozenset({"weight", "backup", "no-backup", "disabled", "enabled", "maxconn", "maxqueue", "id"})
    | SERVER_TLS_OPTIONS
)
# health and agent checks (pyhaproxy/checks)
IMPLEMENTED_OPTIONS |= {"check", "no-check", "inter", "fastinter", "downinter", "rise", "fall"}
IMPLEMENTED_OPTIONS |= {"port", "addr", "agent-check", "no-agent-check", "agent-port"}
IMPLEMENTED_OPTIONS |= {"agent-addr", "agent-send", "agent-inter"}
IMPLEMENTED_OPTIONS |= {"track"}
IMPLEMENTED_OPTIONS |= {"check-ssl", "no-check-ssl", "check-sni", "check-alpn"}  # checks/tls.py
# traffic observation, actions on state changes, slow start (checks/observe.py)
IMPLEMENTED_OPTIONS |= {"observe", "error-limit", "on-error", "on-marked-down", "on-marked-up"}
IMPLEMENTED_OPTIONS |= {"slowstart"}


def _weight(name: str, word: str, ctx: Context | None = None) -> int:
    value = as_long(name, word)
    if not 0 <= value <= 256:
        raise ConfigError(f"weight of server %s is not within 0 and 256 ({value})..")
    return value


def _rise_fall(name: str, word: str, ctx: Context | None = None) -> int:
    value = as_int(name, word)
    if value <= 0:
        raise ConfigError(f"'{name}' has to be > 0..")
    return value


def _inter(name: str, word: str, ctx: Context | None = None) -> int:
    from pyhaproxy.config.units import parse_time

    value = parse_time(word, name)
    if value <= 0:
        raise ConfigError(f"server {name} : '{name}' expects a positive delay in milliseconds.")
    return value


for _n in (
    "agent-check",
    "backup",
    "check",
    "check-send-proxy",
    "check-ssl",
    "check-via-socks4",
    "disabled",
    "enabled",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "no-agent-check",
    "no-backup",
    "no-check",
    "no-check-ssl",
    "no-send-proxy",
    "no-send-proxy-v2",
    "no-send-proxy-v2-ssl",
    "no-send-proxy-v2-ssl-cn",
    "no-ssl",
    "no-ssl-reuse",
    "no-sslv3",
    "no-tls-tickets",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "no-tfo",
    "non-stick",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "ssl",
    "ssl-reuse",
    "stick",
    "tfo",
    "allow-0rtt",
    "tls-tickets",
):
    SERVER_OPTIONS.add(_n, FLAG)
for _n in (
    "addr",
    "agent-send",
    "agent-addr",
    "alpn",
    "check-alpn",
    "check-proto",
    "check-sni",
    "ciphers",
    "ciphersuites",
    "cookie",
    "init-addr",
    "log-proto",
    "namespace",
    "npn",
    "proto",
    "redir",
    "resolve-opts",
    "resolve-prefer",
    "resolve-net",
    "resolvers",
    "proxy-v2-options",
    "sni",
    "source",
    "ssl-max-ver",
    "ssl-min-ver",
    "socks4",
    "track",
    "verify",
    "verifyhost",
    "ws",
    "curves",
    "sigalgs",
    "client-sigalgs",
):
    SERVER_OPTIONS.add(_n, STR)
for _n in ("maxconn", "maxqueue", "minconn"):
    SERVER_OPTIONS.add(_n, LONG)
SERVER_OPTIONS.add("id", POSITIVE)
for _n in (
    "max-reuse",
    "pool-low-conn",
    "pool-max-conn",
    "agent-port",
    "port",
):
    SERVER_OPTIONS.add(_n, INT)
for _n in ("pool-purge-delay", "tcp-ut"):
    SERVER_OPTIONS.add(_n, TIME)
for _n in ("inter", "fastinter", "downinter", "agent-inter"):
    SERVER_OPTIONS.add(_n, Param(1, _inter))
SERVER_OPTIONS.add("weight", Param(1, _weight))
SERVER_OPTIONS.add("rise", Param(1, _rise_fall))
SERVER_OPTIONS.add("fall", Param(1, _rise_fall))
for _n in ("ca-file", "crl-file", "crt"):
    SERVER_OPTIONS.add(_n, Param(1, as_file("crt-base" if _n == "crt" else "ca-base", _n == "crt")))


def _observe(name: str, word: str, ctx: Context | None = None) -> str:
    """``observe none|layer4|layer7`` (HAProxy's srv_parse_observe): layer7
    outside an http proxy is an alert that leaves observing off, and that
    HAProxy 2.6 does not count as an error."""
    if not word:
        raise ConfigError("'observe' expects <mode> as argument..")
    if word not in ("none", "layer4", "layer7"):
        raise ConfigError(f"'observe' expects one of 'none', 'layer4', 'layer7' but got '{word}'.")
    if word == "layer7" and ctx is not None and ctx.proxy is not None and ctx.proxy.mode != "http":
        label = f"'server {ctx.proxy.name}/{ctx.words[1]}' : " if ctx.words[0] == "server" else ""
        ctx.loader.reporter.alert(
            f"[{ctx.where}] : {label}'layer7' can only be used in http proxies.."
        )
        return "none"
    return word


def _error_limit(name: str, word: str, ctx: Context | None = None) -> int:
    """``error-limit <count>``: atoi(), then > 0 (srv_parse_error_limit)."""
    from pyhaproxy.lb.base import atoi

    if not word:
        raise ConfigError("'error-limit' expects an integer argument..")
    value = atoi(word)
    if value <= 0:
        raise ConfigError("error-limit has to be > 0..")
    return value


def _choice(name: str, allowed: tuple[str, ...], words: str) -> object:
    def check(opt: str, word: str, ctx: Context | None = None) -> str:
        if word not in allowed:
            raise ConfigError(f"'{name}' expects {words} but got '{word}'.")
        return word

    return check


def _slowstart(name: str, word: str, ctx: Context | None = None) -> int:
    """``slowstart <time>`` in ms, read as HAProxy's parse_time_err: digits,
    an optional unit, nothing after (srv_parse_slowstart's words)."""
    from pyhaproxy.config.units import parse_time

    m = re.match(r"\d+(us|ms|s|m|h|d)?", word)
    rest = word[m.end() :] if m else word
    if rest and m is not None and m.group(1) and ctx is not None:
        # after a unit, HAProxy 2.6.12 only warns and stops at the unit
        label = f"'server {ctx.proxy.name}/{ctx.words[1]}' : " if ctx.words[0] == "server" else ""
        return parse_time(
            word,
            name,
            lambda text: ctx.loader.reporter.warning(f"[{ctx.where}] : {label}{text}"),
        )
    if rest or not word:
        # an empty argument: HAProxy prints its NUL character, ending the text
        bad = rest[0] if rest else ""
        tail = f"{bad}' in 'slowstart' argument of server %s.." if bad else "."
        raise ConfigError(f"unexpected character '{tail}")
    return parse_time(word, name)


SERVER_OPTIONS.add("observe", Param(1, _observe))
SERVER_OPTIONS.add("error-limit", Param(1, _error_limit))
SERVER_OPTIONS.add("slowstart", Param(1, _slowstart))
SERVER_OPTIONS.add(
    "on-error",
    Param(
        1,
        _choice(
            "on-error",
            ("fastinter", "fail-check", "sudden-death", "mark-down"),
            "one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down'",
        ),
    ),
)
SERVER_OPTIONS.add(
    "on-marked-down",
    Param(1, _choice("on-marked-down", ("shutdown-sessions",), "'shutdown-sessions'")),
)
SERVER_OPTIONS.add(
    "on-marked-up",
    Param(1, _choice("on-marked-up", ("shutdown-backup-sessions",), "'shutdown-backup-sessions'")),
)


def _parse_server_options(
    ctx: Context, label: str, words: list[str], opts: dict, name: str
) -> None:
    try:
        parse_options(SERVER_OPTIONS, words, opts, "", ctx, missing_as_empty=True)
    except ConfigError as exc:
        message = exc.message.replace("%s", name)
        raise ConfigError(f"[{ctx.where}] : {label}{message}", bare=True) from None


@keyword("server", sections=("proxy", "defaults"), implemented=True)
def _server(ctx: Context) -> None:
    if ctx.section == "defaults":
        raise ConfigError(f"[{ctx.where}] : 'server' not allowed in 'defaults' section.", bare=True)
    if not ctx.proxy.cap & BACKEND:
        raise ConfigError(
            f"[{ctx.where}] : parsing [{ctx.where}] : 'server' not allowed because "
            f"{ctx.label} has no backend capability.",
            bare=True,
        )
    if len(ctx.words) < 3:
        raise ConfigError(
            f"[{ctx.where}] : 'server' expects <name> and <addr>[:<port>] as arguments.", bare=True
        )
    name, spec = ctx.words[1], ctx.words[2]
    label = f"'server {ctx.proxy.name}/{name}' : "
    ch = invalid_char(name)
    if ch:
        raise ConfigError(
            f"[{ctx.where}] : character '{ch}' is not permitted in server name '{name}'.", bare=True
        )
    try:
        # Host names are resolved after parsing (checks.resolve_servers).
        addr = parse_address(spec, listen=False, port_required=False)
        if addr.family == "fd":
            raise ConfigError(f"a file descriptor is not acceptable here in '{spec}'")
    except ConfigError as exc:
        raise ConfigError(f"[{ctx.where}] : {label}{exc.message}", bare=True) from None
    opts = dict(ctx.settings.default_server)
    _parse_server_options(ctx, label, list(ctx.words[3:]), opts, name)
    for other in ctx.proxy.servers:
        if other.name == name:
            raise ConfigError(
                f"[{ctx.where}] : {label}: already found another server named '{name}' "
                f"in backend '{ctx.proxy.name}' at {other.where}",
                bare=True,
            )
    srv = Server(ctx.where, name, addr, opts, ctx.proxy.name)
    attach_server(ctx, label.rstrip(" :"), srv)
    for opt in opts:
        if opt not in IMPLEMENTED_OPTIONS:
            ctx.pending(f"server {opt}")
    ctx.proxy.servers.append(srv)


@keyword("default-server", sections=("proxy", "defaults"), implemented=True)
def _default_server(ctx: Context) -> None:
    if ctx.proxy is not None and not ctx.proxy.cap & BACKEND:
        raise ConfigError(
            f"[{ctx.where}] : parsing [{ctx.where}] : 'default-server' not allowed because "
            f"{ctx.label} has no backend capability.",
            bare=True,
        )
    words = list(ctx.words[1:])
    # 'id' stops the line with an alert HAProxy 2.6 does not count as an error
    refused = "id" in words
    cut = words.index("id") if refused else len(words)
    opts = dict(ctx.settings.default_server)
    _parse_server_options(ctx, "", words[:cut], opts, "default-server")
    if refused:
        ctx.loader.reporter.alert(
            f"[{ctx.where}] : 'id' option is not accepted in default-server sections"
        )
    ctx.settings.default_server = opts
