"""``stats socket|timeout|maxconn|bind-process`` in ``global`` (configuration.txt §3.1).

``stats socket <path>|<addr:port> [param*]`` takes the bind options of
§5.1; those the stats sockets act on are listed in ``IMPLEMENTED``, any
other one makes a real start refuse the line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhaproxy.config.keywords.bind import BIND_OPTIONS, parse_options
from pyhaproxy.config.registry import ConfigError, keyword
from pyhaproxy.config.units import parse_address, parse_time
from pyhaproxy.runtime import prometheus  # noqa: F401  (registers the service)
from pyhaproxy.runtime.model import EXTRA_KEY, CliSettings, CliSocket

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

IMPLEMENTED = frozenset(
    {"level", "mode", "user", "group", "uid", "gid", "maxconn", "backlog", "name"}
)
_LEVELS = ("user", "operator", "admin")


def _settings(ctx: Context) -> CliSettings:
    extra = ctx.config.global_.extra
    if EXTRA_KEY not in extra:
        extra[EXTRA_KEY] = CliSettings()
    return extra[EXTRA_KEY]


def _socket(ctx: Context) -> None:
    words = ctx.words
    if len(words) < 3 or not words[2]:
        raise ConfigError(
            f"'{words[0]} {words[1]}' in global section expects an address "
            "or a path to a UNIX socket"
        )
    try:
        addr = parse_address(words[2], listen=True, port_required=True)
    except ConfigError as exc:
        raise ConfigError(f"'{words[0]} {words[1]}' : {exc.message}") from None
    sock = CliSocket(ctx.where, addr)
    rest = list(words[3:])
    while "expose-fd" in rest:
        # "expose-fd listeners" lets "haproxy -x" fetch the listening sockets
        # for a seamless reload; pyhaproxy's master keeps them across reloads
        # itself (pyhaproxy/master/sockets.py), so there is nothing to expose
        i = rest.index("expose-fd")
        got = rest[i + 1] if i + 1 < len(rest) else ""
        if got != "listeners":
            raise ConfigError(
                f"'{words[0]} {words[1]}' : ''expose-fd' only supports 'listeners' (got '{got}')'"
            )
        del rest[i : i + 2]
    try:
        parse_options(BIND_OPTIONS, rest, sock.options, "", ctx)
    except ConfigError as exc:
        raise ConfigError(f"'{words[0]} {words[1]}' : {exc.message}") from None
    level = sock.options.get("level")
    if level is not None and level not in _LEVELS:
        raise ConfigError(
            f"'{words[0]} {words[1]}' : ''level' only supports 'user', 'operator', and "
            f"'admin' (got '{level}')'"
        )
    if "mode" in sock.options:
        try:
            int(sock.options["mode"], 8)
        except ValueError:
            raise ConfigError(
                f"'{words[0]} {words[1]}' : ''mode' : missing or invalid mode "
                f"'{sock.options['mode']}' (octal integer expected)'"
            ) from None
    for opt in sock.options:
        if opt not in IMPLEMENTED:
            ctx.pending(f"stats socket {opt}")
    _settings(ctx).sockets.append(sock)


@keyword("stats", sections=("global",), implemented=True)
def _stats(ctx: Context) -> None:
    """``stats socket ...``, ``stats timeout <t>``, ``stats maxconn <n>``."""
    sub = ctx.words[1] if len(ctx.words) > 1 else ""
    arg = ctx.words[2] if len(ctx.words) > 2 else ""
    if sub == "socket":
        _socket(ctx)
    elif sub == "timeout":
        value = parse_time(arg, "stats timeout")
        if not value:
            raise ConfigError("'stats timeout' expects a positive value")
        _settings(ctx).timeout = value
    elif sub == "maxconn":
        try:
            value = int(arg.strip() or "0")
        except ValueError:
            value = 0
        if value <= 0:
            raise ConfigError("'stats maxconn' expects a positive value")
        _settings(ctx).maxconn = value
    elif sub == "bind-process":
        # one process: every process number designates it (HAProxy 2.6 warns
        # that the keyword is deprecated and ignores it)
        pass
    else:
        raise ConfigError(
            f"'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got '{sub}')"
        )


_EXPECTS = (
    "expects 'admin', 'uri', 'realm', 'auth', 'scope', 'enable', 'hide-version', "
    "'show-node', 'show-desc' or 'show-legends'."
)
# sub-keywords whose behaviour the stats page has (pyhaproxy/runtime/page.py)
PAGE_IMPLEMENTED = frozenset(
    {"enable", "uri", "realm", "auth", "refresh", "hide-version", "show-legends", "show-node"}
    | {"show-desc", "scope", "admin"}
)


@keyword("stats", sections=("defaults", "proxy"), implemented=True)
def _proxy_stats(ctx: Context) -> None:
    """``stats enable|uri|realm|auth|refresh|scope|hide-version|show-legends|
    show-node|show-desc|admin`` (configuration.txt §4.2): the statistics page
    served by this proxy (``page.py``); the words are kept in
    ``settings.extra["stats"]``."""
    words = ctx.words
    sub = words[1] if len(words) > 1 else ""
    arg = words[2] if len(words) > 2 else ""
    if not sub:
        raise ConfigError(f"parsing [{ctx.where}]: missing keyword in 'stats', {_EXPECTS}", True)
    needs = {
        "uri": "'uri' needs an URI prefix.",
        "auth": "'auth' needs a user:password account.",
        "realm": "'realm' needs an realm name.",
        "scope": "'scope' needs a proxy name.",
    }
    if sub in needs and not arg:
        raise ConfigError(needs[sub])
    if sub == "refresh":
        parse_time(arg, "stats refresh interval")
    elif sub == "admin" and arg not in ("if", "unless"):
        raise ConfigError("'stats admin' requires either 'if' or 'unless' followed by a condition.")
    elif sub not in PAGE_IMPLEMENTED | {"admin", "http-request", "show-modules"}:
        raise ConfigError(
            f"parsing [{ctx.where}]: unknown stats parameter '{sub}', {_EXPECTS}", True
        )
    if sub not in PAGE_IMPLEMENTED:
        ctx.pending(f"stats {sub}")
    if sub == "admin":  # page.py: the admin form and its POST, when it matches
        from pyhaproxy.config.keywords.proxy import check_condition

        cond = check_condition(ctx, tuple(words[2:]), "a 'stats admin' rule")
        if cond is not None:
            ctx.settings.extra.setdefault("stats-admin", []).append(cond)
    ctx.settings.extra.setdefault("stats", []).append((ctx.where, tuple(words[1:])))
