"""``disable frontend``, ``enable frontend``, ``shutdown frontend``, ``set
maxconn frontend`` and ``set maxconn global`` (management.txt §9.3).

A frontend is named as HAProxy's ``proxy_fe_by_name`` finds it: a
``frontend`` or ``listen`` section, by name or ``#<id>``.  Changes act on
the running listeners (``dataplane/listeners.py``): ``disable frontend``
stops its listeners from accepting (``Listener.disable``: new connections
are refused, as HAProxy's paused listeners refuse them) and ``show stat``
says ``PAUSED`` until ``enable frontend``; ``shutdown frontend`` closes its
listeners for good (``STOP``; the streams in progress go on, and HAProxy's
warning ``Proxy <name> stopped (cumulated conns: FE: <n>, BE: <n>).`` is
printed, as HAProxy's ``Paused``/``Resumed`` ones for ``disable``/``enable``);
``set maxconn`` resizes the
connection ``Limit`` shared by a frontend's listeners, or the one shared by
every listener (``global``), attaching one when the configuration set none
(its count then starts at the connections in progress).  As HAProxy:

- a frontend's maxconn of 0 accepts no connection at all (HAProxy 2.6
  compares its connection count with 0), a negative one is refused;
- ``set maxconn global`` takes ``atoi()`` of its argument, refuses more
  than the process's hard limit (``Hard_maxconn``: the configured or
  derived ``maxconn`` at start) and reads 0 or less as that hard limit.

With several workers (``nbthread`` > 1) a change runs in every worker of
the generation before it is answered (``master/share.py``); a disabled
listener the workers share with their master is no longer accepted from,
its connections wait in its backlog until ``enable frontend``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyhaproxy.config.model import FRONTEND
from pyhaproxy.dataplane.listeners import Limit, Listener
from pyhaproxy.lb.base import atoi
from pyhaproxy.runtime.commands import ADMIN, command

if TYPE_CHECKING:
    from pyhaproxy.runtime.cli import CliSession
    from pyhaproxy.runtime.server import CliServer

NAME_EXPECTED = "A frontend name is expected.\n"
NO_FRONTEND = "No such frontend.\n"

# a frontend at maxconn 0 accepts nothing: a limit that is always full
_CLOSED = -1


@dataclass(slots=True)
class Front:
    """A running frontend: its model, runtime object and listeners."""

    px: Any
    fe: Any
    listeners: list[Listener] = field(default_factory=list)
    limit: Limit | None = None  # the frontend's maxconn, shared by its listeners


@dataclass(slots=True)
class Fronts:
    """The frontends of the running configuration and the global limit."""

    by_name: dict[str, Front] = field(default_factory=dict)
    global_limit: Limit | None = None
    hard_maxconn: int = 0


def fronts(cli: CliServer) -> Fronts:
    """The frontends of ``cli``'s runtime, built once, with the listeners
    and limits ``dataplane.start`` gave them."""
    if cli.fronts is not None:
        return cli.fronts
    rt, config = cli.rt, cli.config
    out = Fronts(hard_maxconn=cli.hard_maxconn(), global_limit=rt.global_limit)
    fes = {fe.name: fe for fe in rt.frontends}
    for px in config.proxies:
        fe = fes.get(px.name)
        if px.disabled or not (px.cap & FRONTEND) or not px.binds or fe is None:
            continue
        out.by_name[px.name] = Front(px, fe, list(fe.listeners), fe.limit)
    cli.fronts = out
    return out


def _attach(listeners: list[Listener], maxconn: int, cur: int) -> Limit:
    limit = Limit(maxconn)
    limit.cur = cur
    for lst in listeners:
        lst.limits.append(limit)
        limit.listeners.append(lst)
    return limit


def _in_progress(cli: CliServer, listeners: list[Listener]) -> int:
    """Connections accepted on ``listeners`` and not released yet."""
    ids = {id(lst) for lst in listeners}
    return sum(1 for s in cli.rt.sessions if id(getattr(s, "listener", None)) in ids)


def find_frontend(sess: CliSession, name: str) -> tuple[Any, Front | None] | str:
    """HAProxy's ``cli_find_frontend``: (model, running frontend) or the
    error text."""
    if not name:
        return NAME_EXPECTED
    cli = sess.server
    for px in cli.config.proxies:
        if not px.cap & FRONTEND:
            continue
        if px.name == name or (name.startswith("#") and name == f"#{cli.proxy_id(px.name)}"):
            return px, fronts(cli).by_name.get(px.name)
    return NO_FRONTEND


def _arg(args: list[str], i: int) -> str:
    return args[i] if i < len(args) else ""


@command(
    "disable frontend",
    "disable frontend <frontend>",
    "temporarily disable specific frontend",
    level=ADMIN,
)
def _disable(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    found = find_frontend(sess, _arg(args, 2))
    if isinstance(found, str):
        return found
    px, front = found
    if front is None or px.disabled or px.name in sess.server.stopped:
        return "Frontend was previously shut down, cannot disable.\n"
    if not any(not lst.disabled for lst in front.listeners):
        return "All sockets are already disabled.\n"
    for lst in front.listeners:
        lst.disable()
    sess.server.paused.add(px.name)
    _warn(sess, f"Paused {front.fe.kind} {px.name}.")
    return None


@command(
    "enable frontend",
    "enable frontend <frontend>",
    "re-enable specific frontend",
    level=ADMIN,
)
def _enable(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    found = find_frontend(sess, _arg(args, 2))
    if isinstance(found, str):
        return found
    px, front = found
    if front is None or px.disabled or px.name in sess.server.stopped:
        return "Frontend was previously shut down, cannot enable.\n"
    if not any(lst.disabled for lst in front.listeners):
        return "All sockets are already enabled.\n"
    try:
        for lst in front.listeners:
            lst.enable()
    except OSError:
        return "Failed to resume frontend, check logs for precise cause (port conflict?).\n"
    sess.server.paused.discard(px.name)
    _warn(sess, f"Resumed {front.fe.kind} {px.name}.")
    return None


@command(
    "set maxconn frontend",
    "set maxconn frontend <frontend> <value>",
    "change a frontend's maxconn setting",
    level=ADMIN,
)
def _set_maxconn_frontend(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    found = find_frontend(sess, _arg(args, 3))
    if isinstance(found, str):
        return found
    px, front = found
    text = _arg(args, 4)
    if not text:
        return "Integer value expected.\n"
    value = atoi(text)
    if value < 0:
        return "Value out of range.\n"
    sess.server.fe_maxconn_set[px.name] = value
    if front is None:  # disabled: nothing runs
        return None
    limit_value = value or _CLOSED
    if front.limit is None:
        cur = _in_progress(sess.server, front.listeners)
        front.limit = _attach(front.listeners, limit_value, cur)
    front.limit.resize(limit_value)
    return None


@command(
    "set maxconn global",
    "set maxconn global <value>",
    "change the per-process maxconn setting",
    level=ADMIN,
)
def _set_maxconn_global(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    text = _arg(args, 3)
    if not text:
        return "Expects an integer value.\n"
    cli = sess.server
    state = fronts(cli)
    value = atoi(text)
    if value > state.hard_maxconn:
        return "Value out of range.\n"
    if value <= 0:
        value = state.hard_maxconn
    cli.maxconn_set = value
    if state.global_limit is None:
        listeners = [lst for f in state.by_name.values() for lst in f.listeners]
        state.global_limit = _attach(listeners, value, _in_progress(cli, listeners))
    state.global_limit.resize(value)
    return None


@command(
    "shutdown frontend",
    "shutdown frontend <frontend>",
    "stop a specific frontend",
    level=ADMIN,
)
def _shutdown(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    found = find_frontend(sess, _arg(args, 2))
    if isinstance(found, str):
        return found
    px, front = found
    cli = sess.server
    if front is None or px.disabled or px.name in cli.stopped:
        return "Frontend was already shut down.\n"
    for lst in front.listeners:
        lst.close()
    cli.stopped.add(px.name)
    cli.paused.discard(px.name)
    be = cli.rt.backends.get(px.name)  # a listen section's own backend
    _warn(
        sess,
        f"Proxy {px.name} stopped (cumulated conns: FE: {front.fe.c.stot}, "
        f"BE: {be.c.stot if be is not None else 0}).",
    )
    return None


def _warn(sess: CliSession, text: str) -> None:
    """HAProxy's warning for the change (on stderr, as its ha_warning)."""
    reporter = sess.server.reporter
    if reporter is not None:
        reporter.warning(text, context=None)
