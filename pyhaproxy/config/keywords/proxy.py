"""General proxy keywords (configuration.txt §4.2): mode, limits, routing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhaproxy.config.model import BACKEND, FRONTEND, Acl, Server, SwitchingRule
from pyhaproxy.config.registry import ConfigError, keyword
from pyhaproxy.config.units import parse_address, parse_uint
from pyhaproxy.sample import AclError, AclPending, Condition, compile_condition, parse_expression

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

ALL = ("defaults", "proxy")


def _arg(ctx: Context, i: int = 1) -> str:
    return ctx.words[i] if len(ctx.words) > i else ""


def _max_args(ctx: Context, n: int, what: str | None = None) -> None:
    """HAProxy's check of surplus words after the ``n`` arguments."""
    if len(ctx.words) > n + 1:
        raise ConfigError(
            f"'{what or ctx.words[0]}' cannot handle unexpected argument '{ctx.words[n + 1]}'."
        )


@keyword("mode", sections=ALL, implemented=True)
def _mode(ctx: Context) -> None:
    _max_args(ctx, 1)
    mode = _arg(ctx)
    if mode not in ("http", "tcp", "health"):
        raise ConfigError(f"unknown proxy mode '{mode}'.")
    if mode == "health":
        raise ConfigError(
            "'mode health' doesn't exist anymore. Please use 'http-request return' or 'tcp-request connection reject' instead."
        )
    ctx.settings.mode = mode


@keyword(
    "maxconn",
    sections=ALL,
    cap=FRONTEND,
    cap_hint=" Maybe you want 'fullconn' instead ?",
    implemented=True,
)
def _maxconn(ctx: Context) -> None:
    _max_args(ctx, 1)
    ctx.settings.maxconn = parse_uint(
        _arg(ctx), "maxconn", "'maxconn' expects an integer argument.", warn=ctx.warn
    )


@keyword("fullconn", sections=ALL, cap=BACKEND)
def _fullconn(ctx: Context) -> None:
    _max_args(ctx, 1)
    ctx.settings.fullconn = parse_uint(
        _arg(ctx), "fullconn", "'fullconn' expects an integer argument.", warn=ctx.warn
    )


@keyword("retries", sections=ALL, cap=BACKEND, implemented=True)
def _retries(ctx: Context) -> None:
    _max_args(ctx, 1)
    ctx.settings.retries = parse_uint(
        _arg(ctx), "retries", "'retries' expects an integer argument.", warn=ctx.warn
    )


@keyword("default_backend", sections=ALL, cap=FRONTEND, implemented=True)
def _default_backend(ctx: Context) -> None:
    _max_args(ctx, 1)
    if not _arg(ctx):
        raise ConfigError("'default_backend' expects a backend name.")
    ctx.settings.default_backend = (_arg(ctx), ctx.where)


def check_condition(ctx: Context, words: tuple[str, ...], what: str) -> Condition | None:
    """Compile a rule's ``if|unless`` condition (configuration.txt §7.2).  Named
    ACLs must be defined before, as HAProxy resolves them when the rule is
    parsed.  A condition pyhaproxy cannot evaluate yet records itself as
    pending (None)."""
    if not words:
        return None
    if words[0] not in ("if", "unless"):
        raise ConfigError(
            f"{what} : expects 'if' or 'unless' followed by a condition, got '{words[0]}'."
        )
    if len(words) < 2:
        raise ConfigError(
            f"error detected while parsing {what} : missing condition after '{words[0]}'."
        )
    acls: dict[str, list] = {}
    for a in ctx.settings.acls[ctx.loader.acl_base :]:
        acls.setdefault(a.name, []).append(a.compiled or (_never, 7))
    try:
        return compile_condition(words, acls)
    except AclPending as exc:
        ctx.pending(f"{exc.message} in a condition")
        return None
    except AclError as exc:
        raise ConfigError(f"error detected while parsing {what} : {exc.message}") from None


def _never(view: object) -> bool:
    return False


@keyword("use_backend", sections=("proxy",), cap=FRONTEND, implemented=True)
def _use_backend(ctx: Context) -> None:
    if not _arg(ctx):
        raise ConfigError("'use_backend' requires a backend name.")
    cond = ctx.words[2:]
    # HTTP: evaluated per request; TCP: at accept, on `src` only (dataplane)
    compiled = check_condition(ctx, cond, "switching rule")
    if "%[" in _arg(ctx):
        ctx.pending("use_backend %[<sample>]")
    ctx.proxy.switching_rules.append(SwitchingRule(ctx.where, _arg(ctx), cond, compiled))


@keyword("acl", sections=ALL, implemented=True)
def _acl(ctx: Context) -> None:
    if ctx.section == "defaults" and ctx.defaults is not None and not ctx.defaults.name:
        raise ConfigError("'acl' not allowed in anonymous 'defaults' section.")
    name = _arg(ctx)
    if not name:
        raise ConfigError("'acl' expects an ACL name.")
    bad = next((c for c in name if not (c.isalnum() or c in "-_.:")), None)
    if bad:
        raise ConfigError(f"character '{bad}' is not permitted in acl name '{name}'.")
    if len(ctx.words) < 3:
        raise ConfigError(f"error detected while parsing ACL '{name}' : missing fetch method.")
    try:
        compiled = parse_expression(ctx.words[2:])
    except AclPending as exc:
        ctx.pending(f"acl {exc.message}")
        compiled = None
    except AclError as exc:
        raise ConfigError(f"error detected while parsing ACL '{name}' : {exc.message}") from None
    ctx.settings.acls.append(Acl(ctx.where, name, ctx.words[2:], compiled))


@keyword("description", sections=("proxy",))
def _description(ctx: Context) -> None:
    ctx.settings.extra["description"] = " ".join(ctx.words[1:])


@keyword("disabled", sections=ALL, implemented=True)
def _disabled(ctx: Context) -> None:
    _max_args(ctx, 0)
    if ctx.proxy is not None:
        ctx.proxy.disabled = True


@keyword("enabled", sections=ALL, implemented=True)
def _enabled(ctx: Context) -> None:
    _max_args(ctx, 0)
    if ctx.proxy is not None:
        ctx.proxy.disabled = False


@keyword("id", sections=("proxy",), implemented=True)  # used by pyhaproxy/runtime/ids.py
def _id(ctx: Context) -> None:
    _max_args(ctx, 1)
    value = parse_uint(_arg(ctx), "id", "'id' expects an integer argument.", warn=ctx.warn)
    if value < 1:
        raise ConfigError("custom id has to be > 0.")
    ctx.proxy.uuid = value


@keyword("monitor-uri", sections=ALL, cap=FRONTEND, implemented=True)
def _monitor_uri(ctx: Context) -> None:
    _max_args(ctx, 1)
    if not _arg(ctx):
        raise ConfigError("'monitor-uri' expects an URI.")
    ctx.settings.extra["monitor-uri"] = _arg(ctx)


@keyword("http-reuse", sections=ALL, cap=BACKEND, implemented=True)
def _http_reuse(ctx: Context) -> None:
    _max_args(ctx, 1, f"http-reuse {_arg(ctx)}")
    if _arg(ctx) not in ("never", "safe", "aggressive", "always"):
        raise ConfigError("'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'")
    ctx.settings.extra["http-reuse"] = _arg(ctx)


@keyword("errorfile", sections=ALL, implemented=True)
def _errorfile(ctx: Context) -> None:
    if len(ctx.words) < 3:
        raise ConfigError("'errorfile' expects <code> and <file> as arguments.")
    code = parse_uint(
        _arg(ctx), "errorfile", "'errorfile' expects <code> and <file> as arguments.", warn=ctx.warn
    )
    if code not in (
        200,
        400,
        401,
        403,
        404,
        405,
        407,
        408,
        410,
        413,
        425,
        429,
        500,
        501,
        502,
        503,
        504,
    ):
        raise ConfigError(f"status code '{code}' not handled.")
    path = ctx.words[2]
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"error opening file '{path}' ({exc.strerror}).") from None
    ctx.settings.errorfiles[code] = path


@keyword("dispatch", sections=("proxy",), cap=BACKEND, implemented=True)
def _dispatch(ctx: Context) -> None:
    """``dispatch <address>:<port>``: the server of a backend not in balance
    mode (configuration.txt §4.2; ignored, with a warning, when ``balance``
    is set); the last line wins."""
    _max_args(ctx, 1)
    if len(ctx.words) < 2 or not ctx.words[1]:
        raise ConfigError("'dispatch' expects an argument.")
    try:
        addr = parse_address(ctx.words[1], listen=False, port_required=True, allow_offset=False)
    except ConfigError as exc:
        raise ConfigError(f"'dispatch' : {exc.message}") from None
    ctx.settings.extra["dispatch"] = Server(ctx.where, "dispatch", addr)


@keyword("cookie", sections=ALL, cap=BACKEND)
@keyword("backlog", sections=ALL, cap=FRONTEND)
@keyword("compression", sections=ALL)
@keyword("redirect", sections=("proxy",))
def _kept(ctx: Context) -> None:
    """Keywords whose words are kept until their feature compiles them."""
    if ctx.words[0] == "backlog":
        _max_args(ctx, 1)
    if len(ctx.words) < 2 or not ctx.words[1]:
        raise ConfigError(f"'{ctx.words[0]}' expects an argument.")
    ctx.settings.extra.setdefault(ctx.words[0], []).append((ctx.where, ctx.words[1:]))
