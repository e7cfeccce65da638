"""Balance algorithms: one module per ``balance`` keyword (configuration.txt
§4.2 "balance", "hash-type"), each picking the server HAProxy 2.6 picks.

The small interface every balancer implements (see ``base.Base``):

- ``pick(sess, head, avoid) -> ServerRT | None``: the server for this
  stream; ``sess`` is the session (its ``transport`` gives the client
  address), ``head`` the HTTP request head bytes (in TCP mode the
  client's first bytes once ``tcp-request content`` rules accepted, else ``b""``),
  read lazily and only by the hash algorithms (``needs_request``);
  ``avoid`` a server that just failed (chosen only if nothing else is);
- ``update(server)``: its state or weight changed (``ServerRT`` calls it);
- ``take`` / ``drop``: ``None``, or callables ``(server)`` after a
  connection slot is taken / released (leastconn re-sorts its tree);
- ``has_candidates()``: some server could serve once a slot frees;
- ``active``: the non-backup servers.

``ALGORITHMS`` maps an algorithm name to its class; modules register
themselves with ``@register(name)`` when imported below.  ``build()`` turns
a proxy's settings into its balancer, once, when the data plane starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyhaproxy.lb.base import LbSettings, server_ids

if TYPE_CHECKING:
    from pyhaproxy.config.model import Proxy, Server
    from pyhaproxy.dataplane.backend import ServerRT

ALGORITHMS: dict[str, Any] = {}

# algorithms that hash a request key: map-based or consistent lookups
HASHED = frozenset({"source", "uri", "url_param", "hdr", "rdp-cookie"})
# the layer-7 ones fall back to roundrobin outside `mode http` (as HAProxy)
NEEDS_HTTP = frozenset({"uri", "url_param", "hdr"})


def register(name: str) -> Callable[[Any], Any]:
    def deco(cls: Any) -> Any:
        if name in ALGORITHMS:
            raise RuntimeError(f"balance algorithm '{name}' registered twice")
        ALGORITHMS[name] = cls
        return cls

    return deco


def settings_of(px: Proxy) -> LbSettings:
    """The balancing settings of ``px`` (``balance``, ``hash-type``, ...)."""
    st = px.settings
    words = st.balance or ("roundrobin",)
    name, _, param = words[0].partition("(")
    param = param[:-1] if param.endswith(")") else param
    ht = st.hash_type or ()
    # random always uses the consistent tree
    consistent = name == "random" or (bool(ht) and ht[0] == "consistent")
    function = ht[1] if len(ht) > 1 else "sdbm"
    # "consistent hash uses sdbm and avalanche if no hash function is specified"
    avalanche = (len(ht) > 2 and ht[2] == "avalanche") or (consistent and len(ht) < 2)
    mode = px.mode
    if name in NEEDS_HTTP and mode != "http":
        name, param, words = "roundrobin", "", ("roundrobin",)
    return LbSettings(
        algo=name,
        args=tuple(words[1:]),
        param=param,
        consistent=consistent,
        function=function,
        avalanche=avalanche,
        balance_factor=int(st.extra.get("hash-balance-factor") or 0),
        allbackups=bool(st.options.get("allbackups")),
        mode=mode,
    )


def build(px: Proxy, models: list[Server], servers: list[ServerRT]) -> Any:
    """The balancer of backend ``px`` over its runtime ``servers`` (built
    from ``models``, in the same order)."""
    cfg = settings_of(px)
    ids = server_ids([s.options for s in models])
    cls = ALGORITHMS[cfg.algo]
    return cls(servers, ids, cfg)


# the algorithms register themselves on import
from pyhaproxy.lb import (  # noqa: E402,F401
    first,
    hashed,
    leastconn,
    random,
    roundrobin,
    static_rr,
)
