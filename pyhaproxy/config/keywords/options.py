"""`option <name> [args]`, `no option <name>`, `default option <name>`.

Options are a table: name → (capability, argument parser, negatable).
Boolean options take no argument and accept the "no"/"default" prefixes;
options with arguments do not (configuration.txt §4.1, the "(*)" marks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhaproxy.config.model import BACKEND, FRONTEND, LISTEN
from pyhaproxy.config.registry import ConfigError, Table, keyword
from pyhaproxy.config.units import parse_time

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context


@dataclass(frozen=True, slots=True)
class Option:
    cap: int
    args: Callable[[str, list[str]], object] | None = None  # None: boolean


OPTIONS: Table[Option] = Table("option")


def _no_args(name: str, args: list[str]) -> object:
    if args:
        raise ConfigError(f"'{name}' cannot handle unexpected argument '{args[0]}'.")
    return True


for _name, _cap in {
    "abortonclose": BACKEND,
    "accept-invalid-http-request": FRONTEND,
    "accept-invalid-http-response": BACKEND,
    "allbackups": BACKEND,
    "checkcache": BACKEND,
    "clitcpka": FRONTEND,
    "contstats": FRONTEND,
    "disable-h2-upgrade": FRONTEND,
    "dontlog-normal": FRONTEND,
    "dontlognull": FRONTEND,
    "http-buffer-request": LISTEN,
    "http-ignore-probes": FRONTEND,
    "http-keep-alive": LISTEN,
    "http-no-delay": LISTEN,
    "http-pretend-keepalive": LISTEN,
    "http-server-close": LISTEN,
    "http-use-proxy-header": FRONTEND,
    "httpclose": LISTEN,
    "independent-streams": LISTEN,
    "log-health-checks": BACKEND,
    "log-separate-errors": FRONTEND,
    "logasap": FRONTEND,
    "nolinger": LISTEN,
    "persist": BACKEND,
    "prefer-last-server": BACKEND,
    "socket-stats": FRONTEND,
    "splice-auto": LISTEN,
    "splice-request": LISTEN,
    "splice-response": LISTEN,
    "srvtcpka": BACKEND,
    "tcp-smart-accept": FRONTEND,
    "tcp-smart-connect": BACKEND,
    "tcpka": LISTEN,
    "transparent": BACKEND,
    "idle-close-on-response": FRONTEND,
    "h1-case-adjust-bogus-client": FRONTEND,
    "h1-case-adjust-bogus-server": BACKEND,
    "http-restrict-req-hdr-names": LISTEN,
}.items():
    OPTIONS.add(_name, Option(_cap))


def _httplog(name: str, args: list[str]) -> object:
    if args and args != ["clf"]:
        raise ConfigError("keyword 'httplog' only supports option 'clf'.")
    return "clf" if args else True


def _free(name: str, args: list[str]) -> object:
    return tuple(args)


def _forwardfor(name: str, args: list[str]) -> object:
    i = 0
    while i < len(args):
        if args[i] in ("except", "header", "to") and i + 1 < len(args):
            i += 2
        elif args[i] == "if-none" and name == "forwardfor":
            i += 1
        else:
            raise ConfigError(
                f"'option {name}' only supports optional values: 'except', 'header' and 'if-none'."
            )
    return tuple(args)


def _redispatch(name: str, args: list[str]) -> object:
    # HAProxy reads the interval with atol(): "5x" is 5, "x" is 0.
    return tuple(args)


OPTIONS.add("httplog", Option(FRONTEND, _httplog))
OPTIONS.add("httpslog", Option(FRONTEND, _no_args))
OPTIONS.add("tcplog", Option(FRONTEND, _no_args))
OPTIONS.add("forwardfor", Option(LISTEN, _forwardfor))
OPTIONS.add("originalto", Option(LISTEN, _forwardfor))
OPTIONS.add("redispatch", Option(BACKEND, _redispatch))
for _name in (
    "httpchk",
    "ssl-hello-chk",
    "smtpchk",
    "mysql-check",
    "pgsql-check",
    "redis-check",
    "ldap-check",
    "tcp-check",
    "external-check",
    "spop-check",
):
    OPTIONS.add(_name, Option(BACKEND, _free))

_LOG_OPTIONS = frozenset({"httplog", "httpslog", "tcplog"})

# options whose behaviour the data plane has; others record themselves pending
IMPLEMENTED = frozenset(
    {"http-keep-alive", "http-server-close", "httpclose", "forwardfor", "originalto"}
)
# backend connection options the data plane has (dataplane/backend.py)
IMPLEMENTED |= {"abortonclose", "redispatch"}
# balancing (pyhaproxy/lb/)
IMPLEMENTED |= {"allbackups"}
# logging options (pyhaproxy/log)
IMPLEMENTED |= {"httplog", "httpslog", "tcplog", "dontlognull", "dontlog-normal"}
IMPLEMENTED |= {"log-separate-errors"}
# health checks (pyhaproxy/checks)
IMPLEMENTED |= {"httpchk", "tcp-check", "redis-check", "smtpchk", "log-health-checks"}
IMPLEMENTED |= {"ssl-hello-chk", "pgsql-check", "ldap-check", "mysql-check"}
# HAProxy's PR_O_HTTP_MODE: one connection mode per proxy, the last one set wins
HTTP_MODES = ("http-keep-alive", "http-server-close", "httpclose")


def http_mode(options: dict) -> int:
    """0 keep-alive (the default), 1 http-server-close, 2 httpclose."""
    if options.get("httpclose"):
        return 2
    return 1 if options.get("http-server-close") else 0


@keyword("option", sections=("defaults", "proxy"), negatable=True, implemented=True)
def _option(ctx: Context) -> None:
    _option_line(ctx)
    name = ctx.words[1]
    if name not in IMPLEMENTED:
        ctx.pending(f"option {name}")


def _option_line(ctx: Context) -> None:
    name = ctx.words[1] if len(ctx.words) > 1 else ""
    opt = OPTIONS.get(name)
    if not name:
        raise ConfigError(f"parsing [{ctx.where}]: 'option' expects an option name.", bare=True)
    if opt is None:
        if ctx.prefix:
            raise ConfigError(
                f"parsing [{ctx.where}]: negation/default is not supported for option '{name}'.",
                bare=True,
            )
        raise ConfigError(f"unknown option '{name}'.")
    args = list(ctx.words[2:])
    if ctx.prefix:
        if ctx.proxy is not None and not (ctx.proxy.cap & opt.cap):
            need = "frontend" if opt.cap & FRONTEND else "backend"
            ctx.warn(f"'{name}' ignored because {ctx.label} has no {need} capability.")
            return
        if opt.args is not None and name != "redispatch":  # redispatch: a negatable flag
            raise ConfigError(
                f"parsing [{ctx.where}]: negation/default is not supported for option '{name}'.",
                bare=True,
            )
        if args and name != "redispatch":
            raise ConfigError(
                f"'{ctx.prefix} option {name}' cannot handle unexpected argument '{args[0]}'."
            )
        if ctx.prefix == "no":
            ctx.settings.options[name] = False
        else:
            ctx.settings.options.pop(name, None)
        return
    value = (opt.args or _no_args)(f"option {name}" if opt.args is None else name, args)
    if ctx.proxy is not None and not (ctx.proxy.cap & opt.cap):
        if name in _LOG_OPTIONS:
            ctx.warn(f"{ctx.label} : 'option {name}' directive is ignored in backends.")
        else:
            need = "frontend" if opt.cap & FRONTEND else "backend"
            ctx.warn(f"'option {name}' ignored because {ctx.label} has no {need} capability.")
        return
    if name in HTTP_MODES:
        for other in HTTP_MODES:
            ctx.settings.options.pop(other, None)
    ctx.settings.options[name] = value
    if name in _LOG_OPTIONS:
        ctx.settings.extra.pop("log-format", None)  # the last format line wins
        for other in _LOG_OPTIONS - {name}:
            ctx.settings.options.pop(other, None)
    if name == "redispatch" and value and len(value) > 1:
        parse_time(value[1], "option redispatch")
