"""Numeric ids of proxies and servers, as HAProxy 2.6 numbers them.

Clients of the runtime API address objects by ``#<id>`` and read ``iid`` /
``sid`` columns.  HAProxy 2.6 counts named ``defaults`` sections and the internal ``GLOBAL``
frontend of the stats sockets among proxies: in declaration order, each one
without an ``id`` takes the next id not already forced by an ``id`` line.  A server without ``id``
takes its position, or the next free id after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config, Proxy


def proxy_ids(config: Config, global_cli: bool) -> tuple[dict[str, int], set[str]]:
    """``{proxy name: id}`` and the names whose id was forced; ``global_cli``:
    the configuration has ``stats`` lines in ``global``."""
    forced: dict[str, int] = {}
    for pos, px in enumerate(config.proxies, 1):
        if px.uuid != pos:  # the loader numbers proxies 1.. unless "id" says
            forced[px.name] = px.uuid
    used = set(forced.values())
    # named defaults sections take an id (checked against haproxy 2.6.12),
    # anonymous ones do not; the CLI's "GLOBAL" frontend takes the first
    entries = [(d.where.file, d.where.line, "", None) for d in config.defaults if d.name]
    entries += [(p.where.file, p.where.line, p.name, p) for p in config.proxies]
    order = {f: i for i, f in enumerate(config.files)}
    entries.sort(key=lambda e: (order.get(e[0], len(order)), e[1]))
    ids: dict[str, int] = {}
    nxt = 1
    if global_cli:
        used.add(1)
    for _file, _line, name, px in entries:
        if px is not None and name in forced:
            ids[name] = forced[name]
            continue
        while nxt in used:
            nxt += 1
        used.add(nxt)
        if px is not None:
            ids[name] = nxt
    return ids, set(forced)


def server_ids(px: Proxy) -> dict[str, int]:
    forced = {s.name: s.options["id"] for s in px.servers if s.options.get("id")}
    used = set(forced.values())
    ids: dict[str, int] = {}
    for pos, s in enumerate(px.servers, 1):
        if s.name in forced:
            ids[s.name] = forced[s.name]
            continue
        while pos in used:
            pos += 1
        used.add(pos)
        ids[s.name] = pos
    return ids
