"""``balance static-rr``: the servers in turns over HAProxy's static map.

configuration.txt §4.2 "balance": "Each server is used in turns, according
to their weights ... static, which means that changing a server's weight on
the fly will have no effect" (apart from 0 / back, which the runtime API
enforces); a server coming back is reintroduced at once.  See ``map.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyhaproxy.lb import register
from pyhaproxy.lb.map import MapBase

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT


@register("static-rr")
class StaticRR(MapBase):
    def pick(self, sess: Any, head: bytes, avoid: ServerRT | None) -> ServerRT | None:
        return self.map_rr(avoid)
