"""``add server <bk>/<srv> <addr>[:<port>] [args]*`` and ``del server <bk>/<srv>``
(management.txt §9.3 "add server", "del server").

A dynamic server joins a running backend: its ``ServerRT`` is built from a
``config.model.Server`` parsed with the configuration's own server keyword
table (``config/keywords/server.py``, so option errors read as HAProxy's),
appended to the backend's model and runtime server lists and handed to
the balancer (``Base.add_server``).  As HAProxy 2.6:

- only a backend whose balancer is dynamic accepts one (not ``static-rr``
  nor a map-based hash: ``Base.dynamic``);
- only the keywords HAProxy lists for dynamic servers are accepted, no
  ``default-server`` setting is inherited, the server takes the lowest free
  ``id`` unless ``id`` says, and it starts in maintenance (unless
  ``enabled``): ``enable server`` / ``set server ... state ready`` brings
  it in.  The balancer takes it in at its first change of state: one
  added ready (``enabled``) is UP but not chosen until then
  (``Base.add_server``);
- ``check`` / ``agent-check`` build the server's checks (``checks.runner.
  Check``, added to the running ``Scheduler``), disabled until ``enable
  health`` / ``enable agent``, as HAProxy's dynamic servers' checks are;
- ``del server`` removes any server (configured or dynamic) that is in
  maintenance, carries no stream, has nothing queued, and that no other
  server tracks.

What pyhaproxy cannot do for a dynamic server yet is refused with a
message that says so, and the server is not created: a host name (HAProxy
creates the server unresolved, ``init-addr none``), ``track``, ``slowstart``
and the keywords whose feature pyhaproxy lacks (TLS, PROXY protocol,
``source``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyhaproxy.checks.runner import Check
from pyhaproxy.config.keywords.bind import parse_options
from pyhaproxy.config.keywords.server import IMPLEMENTED_OPTIONS, SERVER_OPTIONS
from pyhaproxy.config.model import BACKEND, Server
from pyhaproxy.config.registry import ConfigError
from pyhaproxy.config.units import invalid_char, parse_address
from pyhaproxy.dataplane.backend import ServerRT
from pyhaproxy.messages import Where
from pyhaproxy.runtime.commands import ADMIN, command
from pyhaproxy.runtime.servers import NO_BACKEND, NO_SERVER, find_backend

if TYPE_CHECKING:
    from pyhaproxy.runtime.cli import CliSession

REQUIRE = "Require 'backend/server'."  # sic, no LF: HAProxy's cli_err

# the keywords HAProxy 2.6 accepts on "add server" (management.txt, its
# srv_kws entries flagged for dynamic servers)
DYNAMIC_KEYWORDS = frozenset(
    [
        "agent-addr",
        "agent-check",
        "agent-inter",
        "agent-port",
        "agent-send",
        "allow-0rtt",
        "alpn",
        "addr",
        "backup",
        "ca-file",
        "check",
        "check-alpn",
        "check-proto",
        "check-send-proxy",
        "check-sni",
        "check-ssl",
        "check-via-socks4",
        "ciphers",
        "ciphersuites",
        "crl-file",
        "crt",
        "disabled",
        "downinter",
        "enabled",
        "error-limit",
        "fall",
        "fastinter",
        "force-sslv3",
        "force-tlsv10",
        "force-tlsv11",
        "force-tlsv12",
        "force-tlsv13",
        "id",
        "inter",
        "maxconn",
        "maxqueue",
        "minconn",
        "no-ssl-reuse",
        "no-sslv3",
        "no-tlsv10",
        "no-tlsv11",
        "no-tlsv12",
        "no-tlsv13",
        "no-tls-tickets",
        "npn",
        "observe",
        "on-error",
        "on-marked-down",
        "on-marked-up",
        "pool-low-conn",
        "pool-max-conn",
        "pool-purge-delay",
        "port",
        "proto",
        "proxy-v2-options",
        "rise",
        "send-proxy",
        "send-proxy-v2",
        "send-proxy-v2-ssl",
        "send-proxy-v2-ssl-cn",
        "slowstart",
        "sni",
        "source",
        "ssl",
        "ssl-max-ver",
        "ssl-min-ver",
        "tfo",
        "tls-tickets",
        "track",
        "usesrc",
        "verify",
        "verifyhost",
        "weight",
        "ws",
    ]
)
# ... of which a dynamic server of pyhaproxy acts on (checks: checks/runner.py)
RUNTIME_KEYWORDS = (
    frozenset(
        [
            "weight",
            "backup",
            "disabled",
            "enabled",
            "maxconn",
            "maxqueue",
            "id",
            "check",
            "inter",
            "fastinter",
            "downinter",
            "rise",
            "fall",
            "port",
            "addr",
            "agent-check",
            "agent-port",
            "agent-addr",
            "agent-send",
            "agent-inter",
        ]
    )
    & IMPLEMENTED_OPTIONS
)

_WHERE = Where("(null)", 0)  # HAProxy's dynamic servers have no file:line
_DELAYS = frozenset({"inter", "fastinter", "downinter", "agent-inter"})


def _split(arg: str) -> tuple[str, str] | None:
    """HAProxy's ``<be>/<srv>`` split: the first ``/`` after the first
    character; None when the server part is empty."""
    cut = arg.find("/", 1)
    if cut < 0 or cut == len(arg) - 1:
        return None
    return arg[:cut], arg[cut + 1 :]


class Refused(Exception):
    """A dynamic server that cannot be created: ``str()`` is the answer."""


def _parse(be_name: str, name: str, words: list[str]) -> Server:
    """The model of ``add server``'s server, or Refused (HAProxy's
    _srv_parse_init, _srv_parse_kw and _srv_parse_finalize order)."""
    if not words or not words[0]:
        raise Refused("'server' expects <name> and <addr>[:<port>] as arguments.\n")
    ch = invalid_char(name)
    if ch:
        raise Refused(f"character '{ch}' is not permitted in server name '{name}'.\n")
    spec = words[0]
    try:
        addr = parse_address(spec, listen=False, port_required=False)
    except ConfigError as exc:
        raise Refused(_address_error(exc.message)) from None
    if addr.family == "fd":
        raise Refused(f"a file descriptor is not acceptable here in '{spec}'\n\n")
    if addr.family == "abns":
        raise Refused(
            "'add server' with an abstract namespace address is not implemented yet by pyhaproxy.\n"
        )
    opts: dict[str, Any] = {}
    rest = words[1:]
    i = 0
    while i < len(rest):
        kw = rest[i]
        param = SERVER_OPTIONS.get(kw)
        if param is not None and kw not in DYNAMIC_KEYWORDS:
            raise Refused(f"'{kw}' option is not accepted for dynamic server\n")
        end = i + 1 + (param.nargs if param is not None else 0)
        try:
            parse_options(SERVER_OPTIONS, rest[i:end], opts, "", None, missing_as_empty=True)
        except ConfigError as exc:
            value = rest[i + 1] if i + 1 < len(rest) else ""
            raise Refused(_option_error(exc.message, kw, name, value)) from None
        i = end
    for kw in opts:
        if kw not in RUNTIME_KEYWORDS:
            raise Refused(f"'add server' option '{kw}' is not implemented yet by pyhaproxy.\n")
    if addr.family in ("ipv4", "ipv6") and addr.host and not _is_ip(addr.host, addr.family):
        raise Refused("'add server' with a host name is not implemented yet by pyhaproxy.\n")
    return Server(_WHERE, name, addr, opts, be_name)


def _is_ip(host: str, family: str) -> bool:
    import socket

    try:
        socket.inet_pton(socket.AF_INET6 if family == "ipv6" else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _address_error(message: str) -> str:
    """str2sa_range's messages; some of them end with their own LF."""
    if message.startswith("invalid character"):
        return message + "\n\n"
    return message + "\n"


def _option_error(message: str, kw: str, name: str, value: str) -> str:
    """HAProxy's words for the keywords whose check differs on the CLI."""
    if kw == "id":
        return "'id' : custom id has to be > 0.\n"
    if kw in _DELAYS:
        if not value:
            return f"'{kw}' expects a delay as argument..\n"
        if value.lstrip("-").isdigit():
            return f"invalid value {int(value)} for argument '{kw}' of server {name}..\n"
    return message.replace("%s", name) + "\n"


def _next_id(used: set[int]) -> int:
    n = 1
    while n in used:
        n += 1
    return n


def _checks(sess: CliSession, px: Any, srv: ServerRT, model: Server) -> list[Check]:
    """The server's health and agent checks, built as for configured
    servers (checks/setup.py); disabled until ``enable health|agent``."""
    from pyhaproxy.checks import build, setup, tls

    ruleset = build.ruleset(px)
    if model.options.get("check") and tls.needs_tls(model.options, ruleset):
        raise Refused("'add server' with a TLS check is not implemented yet by pyhaproxy.\n")
    try:
        out = setup.server_checks(sess.rt.checks, px, srv, model.options, ruleset)
    except setup.NoPort as exc:
        if exc.agent:
            raise Refused(
                f"server {srv.name} does not have agent port. Agent check has been disabled.\n"
            ) from None
        raise Refused(
            f"config: {px.kind} '{px.name}': server '{srv.name}' has neither service port "
            "nor check port nor tcp_check rule 'connect' with port information.\n"
        ) from None
    for check in out:
        check.enabled = False  # "enable health" / "enable agent" starts it
    return out


def _start_checks(sess: CliSession, srv: ServerRT, checks: list[Check]) -> None:
    sched = sess.rt.checks
    book = sess.server.book
    rec = book.rec(srv)
    idle = sched._epoll is None  # no check ran yet: the scheduler starts now
    for check in checks:
        sched.add(check)
        if check.agent:
            rec.agent = check
        else:
            rec.check = check
            check.health = 0  # in maintenance: HAProxy's paused check
    if idle:
        sched.start()
    else:
        for check in checks:
            check.schedule(check.interval() / 1000.0)


@command("add server", "add server <bk>/<srv>", "create a new server", level=ADMIN)
def _add_server(sess: CliSession, args: list[str], payload: str | None) -> str:
    parts = _split(args[2] if len(args) > 2 else "")
    if parts is None:
        return REQUIRE
    be_name, name = parts
    be = find_backend(sess, be_name)
    if be is None:
        return NO_BACKEND.rstrip("\n")
    if not getattr(be.lb, "dynamic", False):
        return "Backend must use a dynamic load balancing to support dynamic servers."
    cli = sess.server
    px = cli.config.proxy(be.name, BACKEND)
    try:
        model = _parse(be.name, name, list(args[3:]))
        # its ServerRT starts in maintenance (HAProxy's SRV_ADMF_FMAINT)
        # unless "enabled"; it joins the backend below
        opts = model.options
        srv = ServerRT(Server(_WHERE, name, model.address, {**opts, "disabled": True}, be.name), be)
        checks = _checks(sess, px, srv, model)
        if any(s.name == name for s in be.servers):
            raise Refused("Already exists a server with the same name in backend.\n")
        used = {cli.server_id(s): s for s in be.servers}
        sid = opts.get("id")
        if sid:
            other = used.get(sid)
            if other is not None:
                where = next((m.where for m in px.servers if m.name == other.name), _WHERE)
                raise Refused(
                    f"'id' : custom id {sid} already used at {where} ('server {other.name}').\n"
                )
        else:
            sid = _next_id(set(used))
    except Refused as exc:
        return str(exc)
    px.servers.append(model)
    cli._server_ids[srv] = sid
    srv.watchers.append(cli._changed)
    be.lb.add_server(srv, sid)
    if srv not in be.servers:
        be.servers.append(srv)
    rec = cli.book.rec(srv)
    rec.rise, rec.fall = opts.get("rise", 2), opts.get("fall", 3)
    rec.health = 0 if srv.maint else rec.rise
    rec.check_addr, rec.check_port = opts.get("addr") or "", opts.get("port") or 0
    rec.agent_addr, rec.agent_port = opts.get("agent-addr") or "", opts.get("agent-port") or 0
    if checks:
        _start_checks(sess, srv, checks)
    return "New server registered.\n"


@command(
    "del server",
    "del server <bk>/<srv>",
    "remove a dynamically added server",
    level=ADMIN,
)
def _del_server(sess: CliSession, args: list[str], payload: str | None) -> str:
    parts = _split(args[2] if len(args) > 2 else "")
    if parts is None:
        return REQUIRE
    be_name, name = parts
    be = find_backend(sess, be_name)
    if be is None:
        return NO_BACKEND.rstrip("\n")
    cli = sess.server
    srv = next(
        (
            s
            for s in be.servers
            if s.name == name or (name.startswith("#") and name == f"#{cli.server_id(s)}")
        ),
        None,
    )
    if srv is None:
        return NO_SERVER.rstrip("\n")
    book = cli.book
    if any(book.rec(s).tracked is srv for b in sess.rt.backends.values() for s in b.servers):
        return (
            "This server cannot be removed at runtime due to other configuration "
            "elements pointing to it."
        )
    if not srv.maint:
        return "Only servers in maintenance mode can be deleted."
    srv.pool.close_all()  # idle connections: HAProxy closes them at maintenance
    if srv.cur or srv in be.pinned.values():
        return "Server still has connections attached to it, cannot remove it."
    if any(getattr(s, "srv", None) is srv for s in sess.rt.sessions):
        return "Server still has connections attached to it, cannot remove it."
    rec = book.rec(srv)
    sched = sess.rt.checks
    for check in (rec.check, rec.agent):
        if check is not None:
            check.stop()
            if sched is not None and check in sched.checks:
                sched.checks.remove(check)
    be.lb.remove_server(srv)
    if srv in be.servers:
        be.servers.remove(srv)
    px = cli.config.proxy(be.name, BACKEND)
    if px is not None:
        px.servers[:] = [m for m in px.servers if m.name != srv.name]
    if cli._changed in srv.watchers:
        srv.watchers.remove(cli._changed)
    cli._server_ids.pop(srv, None)
    book.records.pop(srv, None)
    return "Server deleted."
