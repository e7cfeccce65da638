"""``balance first``: the first server (lowest ``id``) with a free
connection slot (configuration.txt §4.2 "balance": "The servers are chosen
from the lowest numeric identifier to the highest ... Once a server reaches
its maxconn value, the next server is used").  Weights are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyhaproxy.lb import register
from pyhaproxy.lb.base import Base, has_room

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT


@register("first")
class First(Base):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        by_id = sorted(self.servers, key=lambda s: self.puid[id(s)])
        self.act_order = [s for s in by_id if not s.backup]
        self.bck_order = [s for s in by_id if s.backup]

    def added(self, srv: ServerRT) -> None:
        order = self.bck_order if srv.backup else self.act_order
        order.append(srv)
        order.sort(key=lambda s: self.puid[id(s)])

    def removed(self, srv: ServerRT) -> None:
        (self.bck_order if srv.backup else self.act_order).remove(srv)

    def pick(self, sess: Any, head: bytes, avoid: ServerRT | None) -> ServerRT | None:
        if self.srv_act:
            order = self.act_order
        elif self.fbck is not None:
            return self.fbck
        elif self.srv_bck:
            order = self.bck_order
        else:
            return None
        ok = self.cur_ok
        avoided = None
        for s in order:
            if ok[id(s)] and has_room(s):
                if s is not avoid:
                    return s
                avoided = s
        return avoided
