"""The master's listening sockets, kept by address across reloads.

Invariants:
- every TCP (ipv4/ipv6) listening address has one socket per worker slot
  (slot k = the worker numbered k+1 of its generation, ``nbthread`` slots),
  all bound with SO_REUSEPORT on that address: the kernel spreads new
  connections over them by a hash of the 4-tuple, so the workers get even
  shares, as HAProxy's threads do.  A unix socket and every ``stats socket``
  have a single socket shared by all workers;
- worker k of N accepts on the slot sockets s of an address with
  s % N == k (``share``); a socket alone (a shared one) goes to every worker;
- the master holds every socket and never closes one whose address is still
  listened on: a new worker of slot k inherits the sockets of the old one,
  so a socket's kernel backlog outlives any worker (connections queued
  while workers change are served, never reset).  When ``nbthread``
  grows, sockets are added for the new slots; when it shrinks the extra
  ones stay open, in the SO_REUSEPORT group, served by the remaining
  workers by the modulo rule;
- a reload binds the new addresses and closes the addresses no longer
  listened on (``adopt``: the master closes its copy once the new workers
  accept; the old workers' copies keep them open until they stop).
  Fresh sockets listen only once every address is bound, so a reload that
  fails to bind closes sockets no connection was queued on.

The ``stats socket`` lines are bound here too, so that every worker serves
the runtime API on them like a traffic listener; the master applies a unix
stats socket's ``mode``/``user``/``group``/``uid``/``gid`` (whoever binds a
socket sets its ownership), again on every reload.

Limit: a new generation that fails to start (a worker dying before it
accepts) closes the slot sockets added for it; connections the kernel
queued on them meanwhile are reset.
"""

from __future__ import annotations

import dataclasses
import socket
from typing import TYPE_CHECKING

from pyhaproxy.config.model import FRONTEND, Bind
from pyhaproxy.dataplane.listeners import BindError, Listener, open_bind
from pyhaproxy.runtime.model import cli_settings

if TYPE_CHECKING:
    from pyhaproxy.config.model import Address, Config

Key = tuple
# the sockets of one address: the slot sockets (ipv4/ipv6 frontends), or a
# single socket shared by every worker
Table = dict  # dict[Key, list[socket.socket]]


def _keys(bind: Bind) -> list[tuple[Key, Bind]]:
    """One (key, single-socket bind line) per socket of ``bind``."""
    opts = bind.options
    v6 = ("v6only" in opts and bool(opts["v6only"]), "v4v6" in opts and bool(opts["v4v6"]))
    out = []
    for a in bind.addresses:
        if a.family in ("ipv4", "ipv6"):
            for port in range(a.port_low, max(a.port_high, a.port_low) + 1):
                one: Address = dataclasses.replace(a, port_low=port, port_high=port)
                out.append(
                    ((a.family, a.host, port, *v6), dataclasses.replace(bind, addresses=[one]))
                )
        else:
            out.append(((a.family, a.host), dataclasses.replace(bind, addresses=[a])))
    return out


class Sockets:
    """Listening sockets by address (``Key``)."""

    def __init__(self) -> None:
        self.table: Table = {}

    def bind_all(self, config: Config, spare: Table | None = None) -> tuple[Table, list[str]]:
        """Sockets for every ``bind`` of ``config``'s enabled frontends,
        reusing the ones held (and those of ``spare``, a generation being
        replaced before it served); returns (new table, HAProxy-shaped
        alerts).  Sockets bound here that a failure leaves unused are
        closed."""
        slots = max(config.global_.nbthread or 1, 1)
        pool: Table = {key: list(socks) for key, socks in self.table.items()}
        for key, socks in (spare or {}).items():
            held = pool.setdefault(key, [])
            held += [s for s in socks if s not in held]
        table: Table = {}
        fresh: list[tuple[socket.socket, int]] = []  # (socket, backlog)
        failures: list[str] = []
        for px in config.proxies:
            if px.disabled or not px.cap & FRONTEND:
                continue
            kind = "frontend" if px.kind == "frontend" else "proxy"
            for bind in px.binds:
                for key, one in _keys(bind):
                    if key in table:
                        continue
                    socks = list(pool.get(key, []))
                    want = slots if key[0] in ("ipv4", "ipv6") else 1
                    while len(socks) < want:
                        # open_bind sets SO_REUSEPORT (and SO_REUSEADDR) on
                        # every ipv4/ipv6 socket: the slot sockets bind together
                        try:
                            (lst,) = open_bind(one, 0)
                        except BindError as exc:
                            strerror, where = exc.args
                            failures.append(
                                f"Binding [{bind.where}] for {kind} {px.name}: "
                                f"cannot bind socket ({strerror}) for {where}"
                            )
                            break
                        backlog = bind.options.get("backlog") or px.settings.maxconn or 0
                        fresh.append((lst.sock, backlog or config.global_.maxconn or 1024))
                        socks.append(lst.sock)
                    table[key] = socks
        self._bind_stats(config, pool, table, fresh, failures)
        if failures:
            for sock, _backlog in fresh:
                close(sock)
            return {}, failures
        for sock, backlog in fresh:
            # listen now: connections queue from the start, while the
            # workers are still being forked
            sock.listen(backlog)
        return table, []

    def _bind_stats(
        self,
        config: Config,
        pool: Table,
        table: Table,
        fresh: list[tuple[socket.socket, int]],
        failures: list[str],
    ) -> None:
        """The ``stats socket`` lines (the internal GLOBAL frontend)."""
        from pyhaproxy.runtime.server import bind_error, owner_error, unix_owner

        settings = cli_settings(config)
        for cli in settings.sockets if settings is not None else []:
            bind = Bind(cli.where, [cli.address], dict(cli.options))
            for key, one in _keys(bind):
                if key in table:
                    continue
                socks = pool.get(key, [])[:1]  # one socket, shared by the workers
                if not socks:
                    try:
                        (lst,) = open_bind(one, 0)
                    except BindError as exc:
                        failures.append(bind_error(cli.where, cli.address.family, exc))
                        continue
                    fresh.append((lst.sock, bind.options.get("backlog") or 1024))
                    socks = [lst.sock]
                table[key] = socks
                if cli.address.family == "unix":
                    try:
                        unix_owner(cli.address.host, cli.options)
                    except (KeyError, OSError) as exc:
                        failures.append(owner_error(cli.address.host, exc))

    def adopt(self, table: Table) -> list[socket.socket]:
        """Make ``table`` current; returns the sockets no longer listened on
        (to close once the workers holding them are gone)."""
        kept = {id(s) for s in every(table)}
        gone = [s for s in every(self.table) if id(s) not in kept]
        self.table = table
        return gone

    def fds(self) -> list[int]:
        return [s.fileno() for s in every(self.table)]

    def close_all(self) -> None:
        for sock in every(self.table):
            close(sock)
        self.table = {}


def every(table: Table) -> list[socket.socket]:
    """All the sockets of ``table``."""
    return [s for socks in table.values() for s in socks]


def share(table: Table, slot: int, slots: int) -> Table:
    """The sockets the worker of ``slot`` (0-based, of ``slots``) accepts
    on: of each address, the slot sockets s with s % slots == slot, or
    the single shared socket."""
    slots = max(slots, 1)
    return {
        key: socks if len(socks) == 1 else socks[slot % slots :: slots]
        for key, socks in table.items()
    }


def close(sock: socket.socket) -> None:
    """Close a listening socket, removing a unix socket's path."""
    Listener("", sock, 0, 0).close()


def opener(table: Table):
    """The ``dataplane.start`` opener of a worker: its share of the
    master's sockets (``share``) for each bind line, one listener per
    socket (not owned: a worker never removes a unix path)."""

    def open_inherited(bind: Bind, backlog: int) -> list[Listener]:
        opts = bind.options
        backlog = opts.get("backlog") or backlog or 1024
        out = []
        for key, _one in _keys(bind):
            for sock in table[key]:
                out.append(
                    Listener(
                        opts.get("name", ""), sock, backlog, opts.get("maxconn") or 0, owned=False
                    )
                )
        return out

    return open_inherited
