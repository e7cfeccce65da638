"""`log` targets, log formats, captures and unique ids (configuration.txt
§4.2 "log", "log-format", "capture request header", "unique-id-format"; §8).

The runtime side is ``pyhaproxy/log``: targets are opened and formats
compiled at start-up; formats are also compiled here, so that ``-c`` reports
an invalid one with its line.  Targets pyhaproxy cannot send to yet (``ring@``,
``tcp@``) are recorded as pending: a real start refuses them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhaproxy.config.model import FRONTEND, LogTarget
from pyhaproxy.config.registry import ConfigError, keyword
from pyhaproxy.config.units import parse_peer_address
from pyhaproxy.log.logformat import FormatError, compile_format
from pyhaproxy.log.syslog import FACILITIES, LEVELS
from pyhaproxy.log.target import TargetError, parse_sample

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context


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
        if args[0] == "sample":
            try:
                parse_sample(args[1])
            except TargetError as exc:
                raise ConfigError(str(exc)) from None
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


@keyword("log", sections=("global", "defaults", "proxy"), negatable=True, implemented=True)
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
    if ctx.words[1].startswith(("ring@", "tcp@", "tcp4@", "tcp6@", "abns@")):
        ctx.pending(f"log {ctx.words[1].split('@')[0]}@")
    target = LogTarget(ctx.where, ctx.words)
    if ctx.section == "global":
        ctx.config.global_.logs.append(target)
    else:
        ctx.settings.logs.append(target)


@keyword("log-format", sections=("defaults", "proxy"), implemented=True)
@keyword("log-format-sd", sections=("defaults", "proxy"), implemented=True)
@keyword("error-log-format", sections=("defaults", "proxy"))  # TLS handshake errors
@keyword("unique-id-format", sections=("defaults", "proxy"), cap=FRONTEND, implemented=True)
def _log_format(ctx: Context) -> None:
    """``log-format <string>`` (and -sd, error-, unique-id-): compiled once to
    check it; the text is kept for the runtime build."""
    name = ctx.words[0]
    if len(ctx.words) < 2:
        raise ConfigError(f"'{name}' expects a format string as argument.")
    if len(ctx.words) > 2:
        raise ConfigError(
            f"'{name}' : format string must be a single word; use quotes or backslashes to escape spaces ('{ctx.words[2]}')."
        )
    try:
        compile_format(ctx.words[1])
    except FormatError as exc:
        # HAProxy 2.6 parses formats after the section, hence its "Parsing"
        raise ConfigError(
            f"Parsing [{ctx.where}]: failed to parse log-format : {exc}.", bare=True
        ) from None
    if name == "log-format":
        # the last of `option httplog|tcplog` and `log-format` wins (§4.2)
        for opt in ("httplog", "tcplog", "httpslog"):
            ctx.settings.options.pop(opt, None)
    ctx.settings.extra[name] = ctx.words[1]


@keyword("log-tag", sections=("global", "defaults", "proxy"), implemented=True)
def _log_tag(ctx: Context) -> None:
    """``log-tag <string>``: the syslog tag of this proxy's messages."""
    if len(ctx.words) < 2 or not ctx.words[1]:
        raise ConfigError("'log-tag' expects a tag as argument.")
    extra = ctx.config.global_.extra if ctx.section == "global" else ctx.settings.extra
    extra["log-tag"] = ctx.words[1]


@keyword("log-send-hostname", sections=("global",), implemented=True)
def _send_hostname(ctx: Context) -> None:
    """``log-send-hostname [<string>]``: a host name in the syslog header."""
    ctx.config.global_.extra["log-send-hostname"] = ctx.words[1] if len(ctx.words) > 1 else ""


@keyword("unique-id-header", sections=("defaults", "proxy"), cap=FRONTEND)
def _unique_id_header(ctx: Context) -> None:
    """``unique-id-header <name>``: not implemented yet (needs a request
    header rewrite); ``%ID`` in a log works without it."""
    if len(ctx.words) < 2:
        raise ConfigError("'unique-id-header' expects an argument.")
    ctx.settings.extra["unique-id-header"] = ctx.words[1]


@keyword("capture", sections=("proxy",), cap=FRONTEND, implemented=True)
def _capture(ctx: Context) -> None:
    """``capture request header <name> len <length>``,
    ``capture response header <name> len <length>``: the first occurrence of
    the header, truncated, in ``%hr``/``%hs`` (configuration.txt §4.2).
    ``capture cookie`` is not implemented yet."""
    w = ctx.words
    if len(w) > 1 and w[1] == "cookie":
        ctx.pending("capture cookie")
        return
    if len(w) < 2 or w[1] not in ("request", "response"):
        raise ConfigError("'capture' expects 'cookie', 'request header' or 'response header'.")
    if len(w) != 6 or w[2] != "header" or w[4] != "len":
        raise ConfigError(f"'capture {w[1]} header' expects <header> 'len' <len>.")
    if not w[5].isdigit() or int(w[5]) < 1:
        raise ConfigError(f"'capture {w[1]} header' expects a positive 'len' value.")
    ctx.settings.extra.setdefault("captures", []).append((w[1], w[3].lower(), int(w[5])))
