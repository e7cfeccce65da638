"""`log` targets and log-format keywords: syntax only until the logging issue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhaproxy.config.model import LogTarget
from pyhaproxy.config.registry import ConfigError, keyword
from pyhaproxy.config.units import parse_peer_address

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

FACILITIES = (
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "auth2",
    "ftp",
    "ntp",
    "audit",
    "alert",
    "cron2",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
)
LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


def _check_address(target: str) -> None:
    """Network targets are checked as HAProxy does (port, host); stdout,
    rings, datagram and file-descriptor targets need no address check."""
    if target in ("stdout", "stderr") or target.startswith(("ring@", "udp", "fd@")):
        return
    try:
        parse_peer_address(target)
    except ConfigError as exc:
        raise ConfigError(f"log : {exc.message}") from None


def _parse_target(words: tuple[str, ...]) -> None:
    """``log <target> [len N] [format F] [sample R:S] <facility> [max [min]]``."""
    args = list(words[1:])
    if not args:
        raise ConfigError(
            "'log' expects either <address[:port]> and <facility> or 'global' as arguments."
        )
    args.pop(0)
    while args and args[0] in ("len", "format", "sample"):
        if len(args) < 2:
            raise ConfigError(f"log : '{args[0]}' expects a value.")
        if args[0] == "len" and not args[1].isdigit():
            raise ConfigError(f"log : invalid max length '{args[1]}'.")
        if args[0] == "format" and args[1] not in (
            "raw",
            "rfc3164",
            "rfc5424",
            "short",
            "iso",
            "timed",
            "local",
            "priority",
        ):
            raise ConfigError(f"log : unknown log format '{args[1]}'")
        args = args[2:]
    if not args:
        raise ConfigError("'log' expects <facility> as argument.")
    if args[0] not in FACILITIES:
        raise ConfigError(f"log : unknown log facility '{args[0]}'")
    for level in args[1:3]:
        if level not in LEVELS:
            raise ConfigError(f"log : unknown optional minimal level '{level}'")
    if len(args) > 3:
        raise ConfigError(f"log : unexpected argument '{args[3]}'")


@keyword("log", sections=("global", "defaults", "proxy"), negatable=True)
def _log(ctx: Context) -> None:
    if ctx.prefix == "no":
        if ctx.section != "global":
            ctx.settings.logs = []
            ctx.settings.no_log = True
        return
    if len(ctx.words) > 1 and ctx.words[1] == "global":
        if ctx.section == "global":
            raise ConfigError("'log global' makes no sense in the 'global' section.")
        ctx.settings.logs.append(LogTarget(ctx.where, ctx.words, is_global=True))
        return
    _parse_target(ctx.words)
    _check_address(ctx.words[1])
    target = LogTarget(ctx.where, ctx.words)
    if ctx.section == "global":
        ctx.config.global_.logs.append(target)
    else:
        ctx.settings.logs.append(target)


@keyword("log-format", sections=("defaults", "proxy"))
@keyword("log-format-sd", sections=("defaults", "proxy"))
@keyword("error-log-format", sections=("defaults", "proxy"))
@keyword("log-tag", sections=("defaults", "proxy"))
def _log_format(ctx: Context) -> None:
    if len(ctx.words) < 2:
        raise ConfigError(f"'{ctx.words[0]}' expects a format string as argument.")
    if len(ctx.words) > 2:
        raise ConfigError(
            f"'{ctx.words[0]}' : format string must be a single word; use quotes or backslashes to escape spaces ('{ctx.words[2]}')."
        )
    ctx.settings.extra[ctx.words[0]] = ctx.words[1]
