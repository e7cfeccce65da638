"""Rule keywords (`http-request`, `tcp-request`, checks...): their words are
kept, in order, until the rule engine of their issue compiles them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhaproxy.config.model import BACKEND, Rule
from pyhaproxy.config.registry import ConfigError, keyword

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

RULE_KEYWORDS = (
    "http-request",
    "http-response",
    "http-after-response",
    "tcp-request",
    "tcp-response",
    "http-check",
    "tcp-check",
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


def _rule(ctx: Context) -> None:
    if len(ctx.words) < 2:
        raise ConfigError(f"'{ctx.words[0]}' expects an action or argument.")
    ctx.settings.rules.append(Rule(ctx.where, ctx.words[0], ctx.words))


for _name in RULE_KEYWORDS:
    keyword(_name, sections=("defaults", "proxy"), cap=BACKEND if _name in _BACKEND_ONLY else 0)(
        _rule
    )
