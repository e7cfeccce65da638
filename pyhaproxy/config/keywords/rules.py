"""Rule keywords (`http-request`, `tcp-request`, checks...): their words are
kept, in order, until the rule engine of their issue compiles them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhaproxy.config.keywords.proxy import check_condition
from pyhaproxy.config.model import BACKEND, FRONTEND, Rule
from pyhaproxy.config.registry import ConfigError, keyword
from pyhaproxy.config.units import parse_peer_address, parse_time

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

RULE_KEYWORDS = (
    "http-request",
    "http-response",
    "http-after-response",
    "tcp-request",
    "tcp-response",
    # "http-check", "tcp-check": pyhaproxy/checks/keywords.py
    "http-error",
    "stick",
    "stick-table",
    "use-server",
    "force-persist",
    "ignore-persist",
    "email-alert",
    "external-check",
    "persist",
    "rate-limit",
    "retry-on",
    "http-send-name-header",
    "server-template",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "errorfiles",
    "monitor",
    "filter",
    "declare",
    "source",
    "load-server-state-from-file",
    "server-state-file-name",
    "max-keep-alive-queue",
    "use-fcgi-app",
    "clitcpka-cnt",
    "clitcpka-idle",
    "clitcpka-intvl",
    "srvtcpka-cnt",
    "srvtcpka-idle",
    "srvtcpka-intvl",
)
_BACKEND_ONLY = {"http-check", "tcp-check", "use-server", "server-template", "http-response"} - {
    "http-response"
}


# Rules whose condition names ACLs that must exist when the line is read.
_CONDITIONAL = frozenset(
    {
        "http-request",
        "http-response",
        "http-after-response",
        "tcp-request",
        "tcp-response",
        "stick",
        "force-persist",
        "ignore-persist",
        "use-server",
    }
)


# The actions HAProxy 2.6 knows, in the order its error message lists them
# (configuration.txt §4.2 "http-request" ...); "name(*)" stands for a prefix.
HTTP_ACTIONS = {
    "http-request": [
        "wait-for-handshake",
        "ot-group",
        "set-log-level",
        "set-nice",
        "use-service",
        "sc-inc-gpc(*)",
        "sc-inc-gpc0(*)",
        "sc-inc-gpc1(*)",
        "sc-set-gpt(*)",
        "sc-set-gpt0(*)",
        "send-spoe-group",
        "do-resolve(*)",
        "cache-use",
        "add-acl(*)",
        "add-header",
        "allow",
        "auth",
        "capture",
        "del-acl(*)",
        "del-header",
        "del-map(*)",
        "deny",
        "disable-l7-retry",
        "early-hint",
        "normalize-uri",
        "redirect",
        "reject",
        "replace-header",
        "replace-path",
        "replace-pathq",
        "replace-uri",
        "replace-value",
        "return",
        "set-header",
        "set-map(*)",
        "set-method",
        "set-path",
        "set-pathq",
        "set-query",
        "set-uri",
        "strict-mode",
        "tarpit",
        "track-sc(*)",
        "set-timeout",
        "wait-for-body",
        "set-var-fmt(*)",
        "set-var(*)",
        "unset-var(*)",
        "set-dst",
        "set-dst-port",
        "set-mark",
        "set-src",
        "set-src-port",
        "set-tos",
        "silent-drop",
        "set-priority-class",
        "set-priority-offset",
    ],
    "http-response": [
        "ot-group",
        "set-log-level",
        "set-nice",
        "sc-inc-gpc(*)",
        "sc-inc-gpc0(*)",
        "sc-inc-gpc1(*)",
        "sc-set-gpt(*)",
        "sc-set-gpt0(*)",
        "send-spoe-group",
        "cache-store",
        "add-acl(*)",
        "add-header",
        "allow",
        "capture",
        "del-acl(*)",
        "del-header",
        "del-map(*)",
        "deny",
        "redirect",
        "replace-header",
        "replace-value",
        "return",
        "set-header",
        "set-map(*)",
        "set-status",
        "strict-mode",
        "track-sc(*)",
        "wait-for-body",
        "set-var-fmt(*)",
        "set-var(*)",
        "unset-var(*)",
        "set-mark",
        "set-tos",
        "silent-drop",
    ],
    "http-after-response": [
        "ot-group",
        "add-header",
        "allow",
        "capture",
        "del-header",
        "replace-header",
        "replace-value",
        "set-header",
        "set-status",
        "strict-mode",
        "set-var-fmt(*)",
        "set-var(*)",
        "unset-var(*)",
    ],
}


def _known_action(kw: str, action: str) -> bool:
    for name in HTTP_ACTIONS[kw]:
        if name.endswith("(*)") and action.startswith(name[:-3]) or action == name:
            return True
    return False


def _abort(ctx: Context, message: str) -> ConfigError:
    """HAProxy stops reading at a broken http rule (ERR_ABORT)."""
    ctx.loader.aborted = True
    return ConfigError(message)


def rule_condition(words: tuple[str, ...]) -> tuple[str, ...]:
    """The ``if``/``unless`` part of a rule: the first such word that is
    followed by something (``set-header X if`` sets a header named "if")."""
    for i in range(1, len(words) - 1):
        if words[i] in ("if", "unless"):
            return words[i:]
    return ()


def _check_source(text: str) -> None:
    """``source <addr>[:<port>]``: a plain stream address (§4.2 "source")."""
    try:
        if text.startswith("fd@"):
            raise ConfigError(f"a file descriptor is not acceptable here in '{text}'")
        if text.startswith("udp"):
            raise ConfigError(f"dgram-type address not acceptable in '{text}'")
        parse_peer_address(text)
    except ConfigError as exc:
        raise ConfigError(f"'source {text}' : {exc.message}") from None


def _check_rate_limit(words: tuple[str, ...]) -> None:
    """``rate-limit sessions <rate>`` (§4.2), the rate a strict integer."""
    if words[1] != "sessions":
        raise ConfigError(f"'rate-limit' only supports 'sessions' (got '{words[1]}')")
    rate = words[2] if len(words) > 2 else ""
    if not rate:
        raise ConfigError(
            "'rate-limit sessions' expects expects an integer value (in sessions/second)"
        )
    bad = next((c for c in rate if not c.isdigit()), None)
    if bad is not None:
        raise ConfigError(
            f"'rate-limit sessions' : unexpected character '{bad}' in integer value '{rate}'"
        )


def _rule(ctx: Context) -> None:
    kw = ctx.words[0]
    action = ctx.words[1] if len(ctx.words) > 1 else ""
    anonymous = ctx.section == "defaults" and ctx.defaults is not None and not ctx.defaults.name
    if anonymous and kw in ("tcp-request", "tcp-response"):
        raise ConfigError(f"{kw} {action} is not allowed in anonymous 'defaults' sections")
    if anonymous and kw.startswith("http-") and kw in _CONDITIONAL:
        raise ConfigError(f"'{kw}' not allowed in anonymous 'defaults' section.")
    if kw in HTTP_ACTIONS and not _known_action(kw, action):
        listed = ", ".join(f"'{a}'" for a in HTTP_ACTIONS[kw])
        raise _abort(ctx, f"'{kw}' expects {listed}, but got '{action}'.")
    if len(ctx.words) < 2:
        if kw == "tcp-request":
            raise ConfigError(f"missing argument for 'tcp-request' in {ctx.label}")
        raise ConfigError(f"'{ctx.words[0]}' expects an action or argument.")
    if kw == "source":
        _check_source(ctx.words[1])
    if kw == "rate-limit":
        _check_rate_limit(ctx.words)
    frontend_only = ctx.proxy is not None and not ctx.proxy.cap & BACKEND
    compiled = None
    if kw in _CONDITIONAL and not (kw == "stick" and frontend_only):
        cond = rule_condition(ctx.words)
        if cond:
            try:
                compiled = check_condition(ctx, cond, f"an '{kw} {ctx.words[1]}' condition")
            except ConfigError as exc:
                if kw in HTTP_ACTIONS:
                    raise _abort(ctx, exc.message) from None
                raise
    # use-service prometheus-exporter: pyhaproxy/runtime/prometheus.py
    service = tuple(ctx.words[1:3]) == ("use-service", "prometheus-exporter")
    if kw == "http-request" and ctx.words[1] not in _HTTP_REQUEST_DONE and not service:
        ctx.pending(f"http-request {ctx.words[1]}")
    if kw == "tcp-request":
        pending = _tcp_request(ctx)
        if pending:
            ctx.pending(pending)
    ctx.settings.rules.append(Rule(ctx.where, ctx.words[0], ctx.words, compiled))


# 'tcp-request content' actions HAProxy 2.6 knows, in the order its error
# lists them ("name(*)" stands for a prefix)
TCP_CONTENT_ACTIONS = [
    "accept",
    "reject",
    "capture",
    "expect-proxy",
    "expect-netscaler-cip",
    "track-sc0",
    "track-sc1",
    "track-sc2",
    "ot-group",
    "set-log-level",
    "set-nice",
    "switch-mode",
    "use-service",
    "sc-inc-gpc(*)",
    "sc-inc-gpc0(*)",
    "sc-inc-gpc1(*)",
    "sc-set-gpt(*)",
    "sc-set-gpt0(*)",
    "send-spoe-group",
    "do-resolve(*)",
    "set-var-fmt(*)",
    "set-var(*)",
    "unset-var(*)",
    "set-src",
    "set-src-port",
    "set-dst",
    "set-dst-port",
    "set-mark",
    "set-tos",
    "silent-drop",
    "set-priority-class",
    "set-priority-offset",
]
_TCP_CONTENT_LISTED = ", ".join(
    f"'{a}'" for a in TCP_CONTENT_ACTIONS if a not in ("track-sc1", "track-sc2")
).replace("'track-sc0'", "'track-sc0' ... 'track-sc2'")


def _known_tcp_content(action: str) -> bool:
    return any(
        action == name or name.endswith("(*)") and action.startswith(name[:-3])
        for name in TCP_CONTENT_ACTIONS
    )


def _tcp_request(ctx: Context) -> str | None:
    """``tcp-request inspect-delay <timeout>`` and ``tcp-request content
    accept|reject [{if|unless} <condition>]`` in a frontend or listen
    section (configuration.txt §4.2), run by dataplane/tcp.py; the syntax
    checked as HAProxy 2.6 checks it.  Returns what pyhaproxy cannot run
    yet (recorded as pending: a real start refuses it), or None."""
    words = ctx.words
    what = words[1]
    if what == "inspect-delay":
        value = words[2] if len(words) > 2 else ""
        base = (
            f"'tcp-request inspect-delay' expects a positive delay in milliseconds, in {ctx.label}"
        )
        if not value:
            raise ConfigError(base)
        try:
            delay = parse_time(value, "tcp-request inspect-delay")
        except ConfigError:
            bad = next((c for c in value if not c.isdigit()), value[:1])
            raise ConfigError(f"{base} (unexpected character '{bad}')") from None
        if ctx.section == "defaults" or not ctx.cap & FRONTEND:
            return "tcp-request inspect-delay in a backend or defaults section"
        ctx.settings.extra["tcp-request inspect-delay"] = delay
        return None
    if what == "content":
        action = words[2] if len(words) > 2 else ""
        if not _known_tcp_content(action):
            raise ConfigError(
                f"'tcp-request content' expects {_TCP_CONTENT_LISTED} in {ctx.label} "
                f"(got '{action}')."
            )
        if action in ("accept", "reject"):
            rest = words[3:]
            if rest and rest[0] not in ("if", "unless"):
                raise ConfigError(
                    f"'tcp-request content {action}' only accepts 'if' or 'unless', "
                    f"in {ctx.label} (got '{rest[0]}')"
                )
            if ctx.section == "defaults" or not ctx.cap & FRONTEND:
                return f"tcp-request content {action} in a backend or defaults section"
            if ctx.settings.mode == "http":  # a later 'mode http': refused at start
                return f"tcp-request content {action} in an HTTP proxy"
            return None
        return f"tcp-request content {action}"
    if what in ("connection", "session"):
        return f"tcp-request {what} {words[2] if len(words) > 2 else ''}".rstrip()
    raise ConfigError(
        f"'tcp-request' expects 'inspect-delay', 'connection', or 'content' in {ctx.label} "
        f"(got '{what}')"
    )


# http-request actions the data plane runs (dataplane/routing.py)
_HTTP_REQUEST_DONE = frozenset({"return", "deny", "redirect"})


for _name in RULE_KEYWORDS:
    keyword(
        _name,
        sections=("defaults", "proxy"),
        cap=BACKEND if _name in _BACKEND_ONLY else 0,
        implemented=_name in ("http-request", "tcp-request"),
    )(_rule)
