"""Balancers over real ``ServerRT`` objects, without sockets."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pyhaproxy.config.keywords  # noqa: F401  (the registries, before the data plane)
from pyhaproxy.config.model import Address, ProxySettings, Server
from pyhaproxy.dataplane.backend import ServerRT
from pyhaproxy.lb import build


def farm(
    specs: list[str],
    balance: tuple[str, ...] = ("roundrobin",),
    hash_type: tuple[str, ...] | None = None,
    mode: str = "http",
    **options: Any,
) -> tuple[Any, list[ServerRT]]:
    """``(balancer, servers)`` for server specs ``"NAME [weight W] [backup]
    [id N] [maxconn N] [disabled]"``."""
    models = []
    for spec in specs:
        words = spec.split()
        opts: dict[str, Any] = {}
        i = 1
        while i < len(words):
            w = words[i]
            if w in ("backup", "disabled"):
                opts[w] = True
                i += 1
            else:
                opts[w] = int(words[i + 1])
                i += 2
        models.append(Server(None, words[0], Address("ipv4", "127.0.0.1", 80, 80), opts))  # type: ignore[arg-type]
    settings = ProxySettings(mode=mode, balance=balance, hash_type=hash_type)
    settings.options.update(options)
    px = SimpleNamespace(settings=settings, mode=mode, servers=models)
    backend = SimpleNamespace(lb=None)
    servers = [ServerRT(m, backend) for m in models]  # type: ignore[arg-type]
    backend.lb = build(px, models, servers)  # type: ignore[arg-type]
    return backend.lb, servers


def picks(lb: Any, n: int, head: bytes = b"", sess: Any = None) -> str:
    """The names of ``n`` successive picks (a slot taken and released)."""
    out = []
    for _ in range(n):
        s = lb.pick(sess, head, None)
        out.append(s.name if s is not None else "-")
    return "".join(out) if all(len(x) == 1 for x in out) else " ".join(out)
