"""Server state and weight commands (management.txt §9.3): ``get weight``,
``set weight``, ``enable|disable server``, ``set server <b>/<s> state|weight|
health|agent|addr``.

Every change goes through the data plane's ``ServerRT`` API (``set_maint``,
``set_drain``, ``set_state``, ``set_weight``), which tells the balancer.
Answers and error texts are HAProxy 2.6's, byte for byte (some lack their
final LF in HAProxy too).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks.agent import ruleset as agent_ruleset
from pyhaproxy.dataplane.backend import DOWN, STOPPING, UP
from pyhaproxy.runtime import adminstate
from pyhaproxy.runtime.commands import ADMIN, command
from pyhaproxy.runtime.health import CHK_ST_CONFIGURED, CHK_ST_ENABLED

if TYPE_CHECKING:
    from pyhaproxy.runtime.cli import CliSession
    from pyhaproxy.runtime.server import CliServer

NO_BACKEND = "No such backend.\n"
NO_SERVER = "No such server.\n"
REQUIRE = "Require 'backend/server'.\n"


class Lookup(Exception):
    """A failed lookup; ``str()`` is HAProxy's answer."""


def find_backend(sess: CliSession, name: str) -> Any:
    """A backend by name or ``#<id>`` (HAProxy's proxy_be_by_name)."""
    backends = sess.rt.backends
    if name.startswith("#"):
        for bname, be in backends.items():
            if f"#{sess.server.proxy_id(bname)}" == name:
                return be
        return None
    return backends.get(name)


def find_server(sess: CliSession, arg: str) -> Any:
    """``<backend>/<server>`` → ServerRT; raises Lookup with HAProxy's text."""
    if "/" not in arg:
        raise Lookup(REQUIRE)
    bname, sname = arg.split("/", 1)
    be = find_backend(sess, bname)
    if be is None:
        raise Lookup(NO_BACKEND)
    for srv in be.servers:
        if srv.name == sname or (
            sname.startswith("#") and sname == f"#{sess.server.server_id(srv)}"
        ):
            return srv
    raise Lookup(NO_SERVER)


def _arg(args: list[str], i: int) -> str:
    return args[i] if i < len(args) else ""


def _strtol(text: str) -> tuple[int | None, str]:
    """C's strtol base 10: (value or None when no digits, rest)."""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\n\r\f\v":
        i += 1
    j = i
    if j < n and text[j] in "+-":
        j += 1
    k = j
    while k < n and text[k].isdigit():
        k += 1
    if k == j:
        return None, text
    return int(text[i:k]), text[k:]


def change_weight(srv: Any, text: str) -> str | None:
    """HAProxy's server_parse_weight_change_request: None when done, else
    the error text."""
    if not text:
        return "Require <weight> or <weight%>.\n"
    w, rest = _strtol(text)
    if w is None:
        return "Empty weight string empty or preceded by garbage"
    if rest == "%":
        if w < 0:
            return "Relative weight must be positive.\n"
        w = min(srv.iweight * min(w, 25600) // 100, 256)
    elif w < 0 or w > 256:
        return "Absolute weight can only be between 0 and 256 inclusive.\n"
    elif rest:
        return "Trailing garbage in weight string"
    lb = srv.backend.lb
    if w and w != srv.iweight and getattr(lb, "static", False):
        return "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
    srv.set_weight(w)
    return None


def set_admin(cli: CliServer, srv: Any, state: str) -> None:
    """``ready`` / ``drain`` / ``maint`` (HAProxy's srv_adm_set_*), passed
    down the servers tracking this one, with HAProxy's messages."""
    adminstate.change(cli.book, srv, state)


@command("get weight", "get weight <bk>/<srv>", "report a server's current weight")
def _get_weight(sess: CliSession, args: list[str], payload: str | None) -> str:
    try:
        srv = find_server(sess, _arg(args, 2))
    except Lookup as exc:
        return str(exc)
    return f"{srv.uweight} (initial {srv.iweight})\n"


@command(
    "set weight",
    "set weight <bk>/<srv>  (DEPRECATED)",
    "change a server's weight (use 'set server' instead)",
    level=ADMIN,
)
def _set_weight(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    try:
        srv = find_server(sess, _arg(args, 2))
    except Lookup as exc:
        return str(exc)
    return change_weight(srv, _arg(args, 3))


@command(
    "disable server",
    "disable server (DEPRECATED)",
    "disable a server for maintenance (use 'set server' instead)",
    level=ADMIN,
)
def _disable_server(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    try:
        srv = find_server(sess, _arg(args, 2))
    except Lookup as exc:
        return str(exc)
    set_admin(sess.server, srv, "maint")
    return None


@command(
    "enable server",
    "enable server  (DEPRECATED)",
    "enable a disabled server (use 'set server' instead)",
    level=ADMIN,
)
def _enable_server(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    try:
        srv = find_server(sess, _arg(args, 2))
    except Lookup as exc:
        return str(exc)
    set_admin(sess.server, srv, "ready")
    return None


_SET_SERVER_USAGE = (
    "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | "
    "agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n"
)
_BY = "by 'stats socket command'"


_CLI = "changed from CLI"
_NO_AGENT = "agent checks are not enabled on this server"  # sic: some add ".\n"
_NO_CHECK = "health checks are not enabled on this server"


def _health(sess: CliSession, srv: Any, word: str) -> str | None:
    book = sess.server.book
    if book.rec(srv).tracked is not None:
        return "cannot change health on a tracking server.\n"
    states = {"up": UP, "stopping": STOPPING, "down": DOWN}
    if word not in states:
        return "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n"
    book.force_health(srv, states[word], _CLI)
    return None


def _agent(sess: CliSession, srv: Any, word: str) -> str | None:
    book = sess.server.book
    if not book.check_state(srv, True) & CHK_ST_ENABLED:
        return _NO_AGENT + ".\n"
    if word not in ("up", "down"):
        return "'set server <srv> agent' expects 'up' or 'down'.\n"
    book.force_agent(srv, word == "up", _CLI)
    return None


def _resolve(text: str) -> tuple[str, int] | None:
    """An address for a check (HAProxy's str2ip: a name is resolved)."""
    try:
        return str(ipaddress.ip_address(text)), 0
    except ValueError:
        pass
    try:
        info = socket.getaddrinfo(text, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    return info[0][4][0], 0


def _port(text: str) -> int | str:
    """A check port, or HAProxy's error text (srv_update_*_addr_port)."""
    value, rest = _strtol(text)
    if value is None or rest:
        return "provided port is not an integer"  # sic, no LF
    if not 0 <= value <= 65535:
        return "provided port is invalid"  # sic, no LF
    return value


def _check_target(
    sess: CliSession, srv: Any, agent: bool, addr: str | None, port: str | None
) -> str | None:
    """``set server <b>/<s> check-addr|check-port|agent-addr|agent-port``:
    where the health (or agent) check connects from its next run on."""
    book = sess.server.book
    rec = book.rec(srv)
    check = rec.agent if agent else rec.check
    if not book.check_state(srv, agent) & CHK_ST_ENABLED:
        return _NO_AGENT if agent else _NO_CHECK
    host = None
    if addr is not None:
        got = _resolve(addr)
        if got is None:
            return f"invalid addr '{addr}'"  # sic, no LF
        host = got[0]
    value = None
    if port is not None:
        value = _port(port)
        if isinstance(value, str):
            return value
    if host is not None:
        check.host = host
        check.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if agent:
            rec.agent_addr = host
        else:
            rec.check_addr = host
    if isinstance(value, int):
        if agent:
            rec.agent_port = check.port = value
        else:
            rec.check_port = value
            check.port = value or srv.port
    return None


def _agent_send(sess: CliSession, srv: Any, text: str) -> str | None:
    rec = sess.server.book.rec(srv)
    if not sess.server.book.check_state(srv, True) & CHK_ST_ENABLED:
        return _NO_AGENT + ".\n"
    rec.agent.ruleset = agent_ruleset(text)
    return None


def _addr(srv: Any, args: list[str]) -> str:
    """``set server <b>/<s> addr <ip> [port <port>]`` (srv_update_addr_port)."""
    if len(args) < 5 or not args[4]:
        return "set server <b>/<s> addr requires an address and optionally a port.\n"
    text = args[4]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return f"Invalid addr '{text}' {_BY}\n"
    port = None
    if _arg(args, 5) == "port":
        port = _arg(args, 6)
    msg = []
    family = "ipv6" if ip.version == 6 else "ipv4"
    if str(ip) != srv.host or family != srv.family:
        msg.append(f"IP changed from '{srv.host}' to '{ip}'")
        srv.host, srv.family = str(ip), family
    else:
        msg.append("no need to change the addr")
    if port is not None:
        value, rest = _strtol(port)
        if value is None or rest or not 0 <= value <= 65535:
            msg.append(f"problem converting port '{port}' to an int")
        elif value != srv.port:
            msg.append(f"port changed from '{srv.port}' to '{value}'")
            srv.port = value
        else:
            msg.append("no need to change the port")
    srv.pool.close_all()  # idle connections went to the old address
    return ", ".join(msg) + f" {_BY}\n"


@command(
    "set server",
    "set server <bk>/<srv> [opts]",
    "change a server's state, weight, address or ssl",
    level=ADMIN,
)
def _set_server(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    try:
        srv = find_server(sess, _arg(args, 2))
    except Lookup as exc:
        return str(exc)
    what = _arg(args, 3)
    value = _arg(args, 4)
    if what == "weight":
        return change_weight(srv, value)
    if what == "state":
        if value not in ("ready", "drain", "maint"):
            return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
        set_admin(sess.server, srv, value)
        return None
    if what == "health":
        return _health(sess, srv, value)
    if what == "agent":
        return _agent(sess, srv, value)
    if what == "addr":
        return _addr(srv, args)
    if what in ("check-addr", "agent-addr"):
        if not value:
            return f"set server <b>/<s> {what} requires an address and optionally a port.\n"
        port = _arg(args, 6) if _arg(args, 5) == "port" else None
        return _check_target(sess, srv, what == "agent-addr", value, port)
    if what in ("check-port", "agent-port"):
        if not value:
            return f"set server <b>/<s> {what} requires a port.\n"
        return _check_target(sess, srv, what == "agent-port", None, value)
    if what == "agent-send":
        return _agent_send(sess, srv, value)
    if what == "fqdn":
        return "set server <b>/<s> fqdn failed because no resolution is configured.\n"
    if what == "ssl":
        return f"'set server {what}' is not implemented yet by pyhaproxy.\n"
    return _SET_SERVER_USAGE


@command(
    "set maxconn server",
    "set maxconn server <bk>/<srv>",
    "change a server's maxconn setting",
    level=ADMIN,
)
def _set_maxconn_server(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    try:
        srv = find_server(sess, _arg(args, 3))
    except Lookup as exc:
        return str(exc)
    text = _arg(args, 4)
    if not text:
        return "Require <maxconn>.\n"
    value, rest = _strtol(text)
    if value is None:
        return "maxconn string empty or preceded by garbage"  # sic, no LF
    if rest:
        return "Trailing garbage in maxconn string"  # sic, no LF
    # HAProxy stores a negative value as is; streams already queued take the
    # new slots as the server's current streams end (BackendRT.release)
    srv.maxconn = max(value, 0)
    return None


@command(
    "shutdown sessions server",
    "shutdown sessions server <bk>/<srv>",
    "kill sessions on a server",
    level=ADMIN,
)
def _shutdown_sessions(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    try:
        srv = find_server(sess, _arg(args, 3))
    except Lookup as exc:
        return str(exc)
    kill_sessions(sess.rt, srv)
    return None


def kill_sessions(rt: Any, srv: Any) -> None:
    """End every stream served by ``srv`` (HAProxy's srv_shutdown_streams)."""
    for stream in [s for s in rt.sessions if getattr(s, "srv", None) is srv]:
        stream.close()


def _toggle(sess: CliSession, args: list[str], agent: bool, on: bool) -> str | None:
    """``enable|disable health|agent <bk>/<srv>``: the check stops or
    resumes running (HAProxy's CHK_ST_ENABLED); a server without that
    check answers only when asked to enable it."""
    try:
        srv = find_server(sess, _arg(args, 2))
    except Lookup as exc:
        return str(exc)
    book = sess.server.book
    if not book.check_state(srv, agent) & CHK_ST_CONFIGURED:
        if not on:
            return None
        if agent:
            return "Agent was not configured on this server, cannot enable.\n"
        return "Health check was not configured on this server, cannot enable.\n"
    rec = book.rec(srv)
    (rec.agent if agent else rec.check).enabled = on
    return None


@command("disable agent", "disable agent", "disable agent checks", level=ADMIN)
def _disable_agent(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    return _toggle(sess, args, True, False)


@command("disable health", "disable health", "disable health checks", level=ADMIN)
def _disable_health(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    return _toggle(sess, args, False, False)


@command("enable agent", "enable agent", "enable agent checks", level=ADMIN)
def _enable_agent(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    return _toggle(sess, args, True, True)


@command("enable health", "enable health", "enable health checks", level=ADMIN)
def _enable_health(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    return _toggle(sess, args, False, True)
