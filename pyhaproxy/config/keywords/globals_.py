"""Keywords of the `global` section (configuration.txt §3)."""

from __future__ import annotations

import grp
import pwd
from typing import TYPE_CHECKING

from pyhaproxy.config.registry import ConfigError, keyword
from pyhaproxy.config.units import parse_time, parse_uint
from pyhaproxy.messages import parsing

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

G = ("global",)
MAX_THREADS = 64  # HAProxy 2.6's default build limit, which `nbthread` obeys


def _no_args(ctx: Context) -> None:
    if len(ctx.words) > 1:
        raise ConfigError(f"'{ctx.words[0]}' cannot handle unexpected argument '{ctx.words[1]}'.")


def _continuing(ctx: Context, text: str) -> None:
    """An alert that is not an error: HAProxy keeps the first value and the
    verdict stays good ("already specified. Continuing.")."""
    ctx.loader.reporter.alert(parsing(ctx.where, text))


def _once(ctx: Context, attr: str) -> bool:
    """False (after HAProxy's non-fatal alert) if the setting was already set."""
    g = ctx.config.global_
    if attr in g.set_by:
        _continuing(ctx, f"'{ctx.words[0]}' already specified. Continuing.")
        return False
    g.set_by[attr] = ctx.where
    return True


def _flag(name: str, attr: str) -> None:
    @keyword(name, sections=G, implemented=True)
    def parse(ctx: Context) -> None:
        _no_args(ctx)
        setattr(ctx.config.global_, attr, True)


_flag("daemon", "daemon")
_flag("master-worker", "master_worker")


for _name in (
    "quiet",
    "zero-warning",
    "strict-limits",
    "noepoll",
    "nopoll",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "insecure-fork-wanted",
    "insecure-setuid-wanted",
    "set-dumpable",
    "busy-polling",
    "expose-experimental-directives",
):

    def _mk(name: str) -> None:
        @keyword(
            name,
            sections=G,
            negatable=name
            in ("strict-limits", "set-dumpable", "busy-polling", "insecure-fork-wanted"),
        )
        def parse(ctx: Context) -> None:
            _no_args(ctx)
            ctx.config.global_.extra[name] = ctx.prefix != "no"

    _mk(_name)


def _count_once(name: str, attr: str, implemented: bool = False) -> None:
    """A global count set once (``maxconn``, ``ulimit-n``); 0 reads as "not
    set" in HAProxy, so a later line may still set it."""

    @keyword(name, sections=G, implemented=implemented)
    def parse(ctx: Context) -> None:
        if not _once(ctx, attr):
            return
        if not ctx.words[1:] or not ctx.words[1]:
            del ctx.config.global_.set_by[attr]
            raise ConfigError(f"'{name}' expects an integer argument.")
        value = parse_uint(ctx.words[1], name, None, warn=ctx.warn)
        setattr(ctx.config.global_, attr, value)
        if not value:
            del ctx.config.global_.set_by[attr]


_count_once("maxconn", "maxconn", implemented=True)
_count_once("ulimit-n", "ulimit_n", implemented=True)


@keyword("nbthread", sections=G, implemented=True)
def _nbthread(ctx: Context) -> None:
    arg = ctx.words[1] if len(ctx.words) > 1 else ""
    if not arg.isdigit():
        raise ConfigError(f"'nbthread' passed a missing or unparsable integer value in '{arg}'")
    if not 1 <= int(arg) <= MAX_THREADS:
        raise ConfigError(f"'nbthread' value must be between 1 and {MAX_THREADS} (was {arg})")
    ctx.config.global_.nbthread = int(arg)


@keyword("nbproc", sections=G)
def _nbproc(ctx: Context) -> None:
    raise ConfigError(
        "nbproc is not supported any more since HAProxy 2.5. Threads will automatically be "
        "used on multi-processor machines if available."
    )


def _string(name: str, attr: str | None = None, implemented: bool = False) -> None:
    @keyword(name, sections=G, implemented=implemented)
    def parse(ctx: Context) -> None:
        if len(ctx.words) < 2 or not ctx.words[1]:
            raise ConfigError(f"'{name}' expects a single argument.")
        if attr:
            if _once(ctx, attr):
                setattr(ctx.config.global_, attr, ctx.words[1])
        else:
            ctx.config.global_.extra[name] = " ".join(ctx.words[1:])


_string("pidfile", "pidfile")
_string("chroot", "chroot", implemented=True)
for _name in (
    "node",
    "description",
    "localpeer",
    "server-state-base",
    "server-state-file",
    "default-path",
    "unix-bind",
    "cluster-secret",
    "issuers-chain-path",
):
    _string(_name)


@keyword("user", sections=G, implemented=True)
def _user(ctx: Context) -> None:
    g = ctx.config.global_
    if g.uid:  # uid 0 (root) counts as unset, as in HAProxy
        _continuing(ctx, "user/uid already specified. Continuing.")
        return
    name = ctx.words[1] if len(ctx.words) > 1 else ""
    try:
        g.uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        raise ConfigError(f"cannot find user id for '{name}' (0:Success)") from None
    g.user = name


@keyword("group", sections=G, implemented=True)
def _group(ctx: Context) -> None:
    g = ctx.config.global_
    if g.gid:  # gid 0 counts as unset, as in HAProxy
        _continuing(ctx, "gid/group was already specified. Continuing.")
        return
    name = ctx.words[1] if len(ctx.words) > 1 else ""
    try:
        g.gid = grp.getgrnam(name).gr_gid
    except KeyError:
        raise ConfigError(f"cannot find group id for '{name}' (0:Success)") from None
    g.group = name


@keyword("uid", sections=G, implemented=True)
@keyword("gid", sections=G, implemented=True)
def _ids(ctx: Context) -> None:
    attr = ctx.words[0]
    value = parse_uint(
        ctx.words[1] if len(ctx.words) > 1 else "",
        attr,
        f"'{attr}' expects an integer argument.",
        warn=ctx.warn,
    )
    setattr(ctx.config.global_, attr, value)


@keyword("hard-stop-after", sections=G, implemented=True)
def _hard_stop(ctx: Context) -> None:
    if len(ctx.words) < 2:
        raise ConfigError("'hard-stop-after' expects <time> as argument.")
    ctx.config.global_.hard_stop_after = parse_time(ctx.words[1], "hard-stop-after")


@keyword("spread-checks", sections=G, implemented=True)
@keyword("maxsslconn", sections=G)
@keyword("maxconnrate", sections=G)
@keyword("maxsessrate", sections=G)
@keyword("maxsslrate", sections=G)
@keyword("maxpipes", sections=G)
@keyword("mworker-max-reloads", sections=G)
@keyword("tune.http.maxhdr", sections=G, implemented=True)
@keyword("tune.maxaccept", sections=G)
@keyword("tune.maxpollevents", sections=G)
@keyword("tune.ssl.cachesize", sections=G, implemented=True)  # pyhaproxy/tls
def _int_setting(ctx: Context) -> None:
    name = ctx.words[0]
    value = parse_uint(
        ctx.words[1] if len(ctx.words) > 1 else "",
        name,
        f"'{name}' expects an integer argument.",
        warn=ctx.warn,
    )
    if name == "spread-checks" and not 0 <= value <= 50:
        raise ConfigError(
            f"parsing [{ctx.where}]: 'spread-checks' needs a positive value in range 0..50.",
            bare=True,
        )
    if name == "tune.maxaccept" and value > 2**31 - 1:
        raise ConfigError("'tune.maxaccept' expects -1 or an integer from 0 to INT_MAX.")
    if name == "maxsslconn" and value < 0:
        raise ConfigError("'maxsslconn' expects a positive numeric value.")
    ctx.config.global_.tune[name] = value


@keyword("tune.ssl.default-dh-param", sections=G, implemented=True)  # pyhaproxy/tls
def _dh_param(ctx: Context) -> None:
    """``tune.ssl.default-dh-param <number>`` (configuration.txt §3.2): the
    largest DH parameters for DHE ciphers, read with atoi(), at least 1024."""
    name = ctx.words[0]
    arg = ctx.words[1] if len(ctx.words) > 1 else ""
    if not arg:
        raise ConfigError(f"'{name}' expects an integer argument.")
    text = arg.lstrip()
    sign = -1 if text[:1] == "-" else 1
    text = text[1:] if text[:1] in "+-" else text
    digits = len(text) - len(text.lstrip("0123456789"))
    value = sign * int(text[:digits]) if digits else 0
    ctx.config.global_.tune[name] = value  # kept even when refused, as HAProxy
    if value < 1024:
        raise ConfigError(f"'{name}' expects a value >= 1024.")


@keyword("tune.bufsize", sections=G, implemented=True)
@keyword("tune.maxrewrite", sections=G, implemented=True)
@keyword("tune.rcvbuf.client", sections=G)
@keyword("tune.rcvbuf.server", sections=G)
@keyword("tune.sndbuf.client", sections=G)
@keyword("tune.sndbuf.server", sections=G)
@keyword("tune.http.cookielen", sections=G)
@keyword("tune.http.logurilen", sections=G)
def _size_setting(ctx: Context) -> None:
    name = ctx.words[0]
    # HAProxy 2.6 reads these with atol(): "16k" is 16, not 16384.
    ctx.config.global_.tune[name] = parse_uint(
        ctx.words[1] if len(ctx.words) > 1 else "",
        name,
        f"'{name}' expects an integer argument.",
        warn=ctx.warn,
    )


@keyword("tune.ssl.lifetime", sections=G)  # stored in ms, HAProxy reads seconds
@keyword("tune.idletimer", sections=G)
def _time_setting(ctx: Context) -> None:
    name = ctx.words[0]
    value = parse_time(ctx.words[1] if len(ctx.words) > 1 else "", name)
    if name == "tune.idletimer" and value > 65535:
        raise ConfigError("'tune.idletimer' expects a timer value between 0 and 65535 ms.")
    ctx.config.global_.tune[name] = value


@keyword("ssl-server-verify", sections=G, implemented=True)
def _ssl_server_verify(ctx: Context) -> None:
    """``ssl-server-verify [none|required]`` (configuration.txt §3.1)."""
    if len(ctx.words) > 2:
        raise ConfigError(
            f"'ssl-server-verify' cannot handle unexpected argument '{ctx.words[2]}'."
        )
    value = ctx.words[1] if len(ctx.words) > 1 else ""
    if value not in ("none", "required"):
        raise ConfigError("'ssl-server-verify' expects 'none' or 'required' as argument.")
    ctx.config.global_.extra["ssl-server-verify"] = value


@keyword("setenv", sections=G)
@keyword("presetenv", sections=G)
def _setenv(ctx: Context) -> None:
    if len(ctx.words) != 3:
        raise ConfigError(f"'{ctx.words[0]}' expects a name and a value.")
    ctx.config.global_.extra.setdefault("env", []).append(tuple(ctx.words))


@keyword("unsetenv", sections=G)
@keyword("resetenv", sections=G)
def _unsetenv(ctx: Context) -> None:
    ctx.config.global_.extra.setdefault("env", []).append(tuple(ctx.words))
