"""``balance leastconn``: the server with the fewest streams per weight
(HAProxy's lb_fwlc).

configuration.txt §4.2 "balance": "The server with the lowest number of
connections receives the connection. Round-robin is performed within groups
of servers of the same load".  Servers sit in a tree keyed by
``(n + 1) * 4096 / eweight`` for ``n`` streams in flight (0 when idle, so
idle servers come first whatever their weight); a server whose key changes
(``take``/``drop``) is re-inserted after the servers of equal key, which is
the round robin among equals.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import TYPE_CHECKING, Any

from pyhaproxy.lb import register
from pyhaproxy.lb.base import SRV_EWGHT_MAX, Base, has_room
from pyhaproxy.lb.tree import SEQ, Tree

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT


@register("leastconn")
class LeastConn(Base):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.act = Tree()
        self.bck = Tree()
        self.entry: dict[int, Any] = {}  # server -> its entry (None: out of the trees)
        for s in self.servers:
            self.entry[id(s)] = None
            if self.cur_ok[id(s)]:
                self._queue(s, self.cur_ew[id(s)])
        self.take = self.drop = self._reposition

    def added(self, srv: ServerRT) -> None:
        self.entry[id(srv)] = None

    def removed(self, srv: ServerRT) -> None:
        del self.entry[id(srv)]

    @staticmethod
    def _key(s: ServerRT, eweight: int) -> int:
        n = s.cur
        return (n + 1) * SRV_EWGHT_MAX // eweight if n else 0

    def _queue(self, s: ServerRT, eweight: int) -> None:
        tree = self.bck if s.backup else self.act
        self.entry[id(s)] = tree.insert(self._key(s, eweight), s)

    def _dequeue(self, s: ServerRT) -> None:
        entry = self.entry[id(s)]
        if entry is not None:
            (self.bck if s.backup else self.act).delete(entry)
            self.entry[id(s)] = None

    def _reposition(self, s: ServerRT) -> None:
        """take/drop: re-sort ``s`` after its stream count changed (only if
        its key changed, as HAProxy's fwlc_srv_reposition)."""
        sid = id(s)
        entry = self.entry.get(sid)
        if entry is None:
            return
        n = s.cur
        key = (n + 1) * SRV_EWGHT_MAX // self.cur_ew[sid] if n else 0
        if entry[0] == key:
            return
        entries = (self.bck if s.backup else self.act).entries
        i = bisect_left(entries, (entry[0], entry[1]))
        if i < len(entries) and entries[i] is entry:
            del entries[i]
        new = (key, next(SEQ), s)
        insort(entries, new)
        self.entry[sid] = new

    def changed(self, srv: ServerRT, old_ok: bool, new_ok: bool, old_ew: int, new_ew: int) -> None:
        self._dequeue(srv)
        if new_ok:
            self._queue(srv, new_ew)

    def pick(self, sess: Any, head: bytes, avoid: ServerRT | None) -> ServerRT | None:
        if self.srv_act:
            tree = self.act
        elif self.fbck is not None:
            return self.fbck
        elif self.srv_bck:
            tree = self.bck
        else:
            return None
        avoided = None
        for entry in tree.entries:
            s = entry[2]
            if has_room(s):
                if s is not avoid:
                    return s
                avoided = s
        return avoided
