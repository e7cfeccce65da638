"""`timeout <name> <time>` (configuration.txt §4.2 "timeout ...")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhaproxy.config.model import BACKEND, FRONTEND, LISTEN
from pyhaproxy.config.registry import ConfigError, keyword
from pyhaproxy.config.units import parse_time

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

# name → capability the timeout applies to, in HAProxy's documented order.
TIMEOUTS = {
    "client": FRONTEND,
    "server": BACKEND,
    "connect": BACKEND,
    "check": BACKEND,
    "queue": BACKEND,
    "http-keep-alive": LISTEN,
    "http-request": LISTEN,
    "tunnel": BACKEND,
    "tarpit": LISTEN,
    "client-fin": FRONTEND,
    "server-fin": BACKEND,
}
# timeouts the data plane enforces (pyhaproxy/dataplane/); the others refuse to start
IMPLEMENTED = frozenset(
    {
        "client",
        "server",
        "connect",
        "queue",
        "http-request",
        "http-keep-alive",
        "tunnel",  # tcp.py, http.py (Upgrade)
        "client-fin",  # tcp.py: the half-closed side's timeout
        "server-fin",
    }
)
IMPLEMENTED |= {"check"}  # pyhaproxy/checks/runner.py
# deprecated aliases still accepted by HAProxy 2.6
ALIASES = {"clitimeout": "client", "srvtimeout": "server", "contimeout": "connect"}


@keyword("timeout", sections=("defaults", "proxy"), implemented=True)
def _timeout(ctx: Context) -> None:
    name = ctx.words[1] if len(ctx.words) > 1 else ""
    if name not in TIMEOUTS:
        names = list(TIMEOUTS)
        listed = ", ".join(f"'{n}'" for n in names[:-1]) + f" and '{names[-1]}'"
        raise ConfigError(f"'timeout' supports {listed} (got '{name}')")
    what = f"timeout {name}"
    value = ctx.words[2] if len(ctx.words) > 2 else ""
    if not value:
        raise ConfigError(f"'{what}' expects an integer value (in milliseconds)")
    ms = parse_time(value, what, ctx.loader.reporter.warning)
    if len(ctx.words) > 3:
        raise ConfigError(f"'{what}' cannot handle unexpected argument '{ctx.words[3]}'.")
    if ctx.proxy is not None and not (ctx.proxy.cap & TIMEOUTS[name]):
        need = "frontend" if TIMEOUTS[name] & FRONTEND else "backend"
        ctx.warn(f"'{what}' will be ignored because {ctx.label} has no {need} capability")
        return
    if name not in IMPLEMENTED:
        ctx.pending(f"timeout {name}")
    ctx.settings.timeouts[name] = ms
