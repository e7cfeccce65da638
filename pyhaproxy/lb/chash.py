"""HAProxy's consistent-hash ring (lb_chash), for ``hash-type consistent``
and ``balance random``.

configuration.txt §4.2 "hash-type": "the hash table is a tree filled with
many occurrences of each server ... when a server goes up or down, only its
associations are moved".  A server of effective weight ``w`` (user weight
times 16) has ``w`` points on the ring, the i-th at
``full_hash(puid * 4096 + i)`` (``puid``: the server ``id``, by default its
position), so two load balancers with the same ids agree.  A key goes to
the closest point (the previous one on a tie); with ``hash-balance-factor``
a server above its share of the load is skipped for the next point.  Keys
missing from the request walk the ring point by point (round robin).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from pyhaproxy.lb.base import SRV_EWGHT_RANGE, Base, has_room
from pyhaproxy.lb.hashes import full_hash
from pyhaproxy.lb.tree import Tree

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT


class ChashBase(Base):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.act = Tree()
        self.bck = Tree()
        self.last: Any = None  # the ring entry the round robin stopped at
        self.points: dict[int, list[int]] = {}  # server -> its point keys
        self.placed: dict[int, list[Any]] = {}  # server -> its entries in the ring
        for s in self.servers:
            self.added(s)
            if self.cur_ok[id(s)]:
                self._adjust(s, self.cur_ew[id(s)])

    def added(self, srv: ServerRT) -> None:
        """Its point keys (none placed yet)."""
        pu = self.puid[id(srv)]
        self.points[id(srv)] = [
            full_hash((pu * SRV_EWGHT_RANGE + i) & 0xFFFFFFFF)
            for i in range(srv.uweight * self.wdiv)
        ]
        self.placed[id(srv)] = []

    def removed(self, srv: ServerRT) -> None:
        del self.points[id(srv)], self.placed[id(srv)]

    def _tree(self, s: ServerRT) -> Tree:
        return self.bck if s.backup else self.act

    def _adjust(self, s: ServerRT, count: int) -> None:
        """chash_queue_dequeue_srv: ``count`` points of ``s`` on the ring."""
        tree = self._tree(s)
        placed = self.placed[id(s)]
        points = self.points[id(s)]
        while len(placed) > count:
            entry = placed.pop()
            if entry is self.last:
                self.last = self._skip(tree, entry)
            tree.delete(entry)
        if len(points) < count:  # weight raised above the configured one
            pu = self.puid[id(s)]
            points.extend(
                full_hash((pu * SRV_EWGHT_RANGE + i) & 0xFFFFFFFF)
                for i in range(len(points), count)
            )
        while len(placed) < count:
            placed.append(tree.insert(points[len(placed)], s))

    @staticmethod
    def _skip(tree: Tree, entry: Any) -> Any:
        """The entry after ``entry`` (wrapping), None if it is alone."""
        entries = tree.entries
        i = tree.index(entry) + 1
        nxt = entries[i] if i < len(entries) else entries[0]
        return None if nxt is entry else nxt

    def changed(self, srv: ServerRT, old_ok: bool, new_ok: bool, old_ew: int, new_ew: int) -> None:
        self._adjust(srv, new_ew if new_ok else 0)

    def _root(self) -> Tree | ServerRT | None:
        if self.srv_act:
            return self.act
        if self.fbck is not None:
            return self.fbck
        if self.srv_bck:
            return self.bck
        return None

    def _eligible(self, s: ServerRT) -> bool:
        """Bounded loads: below its share of ``hash-balance-factor``% of the
        backend's streams (HAProxy's chash_server_is_eligible)."""
        served = sum(x.cur for x in self.servers)
        tot = self.tot_weight
        slots_tot = ((served + 1) * self.cfg.balance_factor + 99) // 100
        per, rem = divmod(slots_tot, tot)
        w = self.cur_ew[id(s)]
        cum = self.cumulative.get(id(s), 0)
        slots = w * per + ((cum + w) * rem) // tot - (cum * rem) // tot
        return s.cur < (slots or 1)

    def chash_hash(self, h: int, avoid: ServerRT | None) -> ServerRT | None:
        if self.srv_act:
            root = self.act
        else:
            other = self._root()
            if other is None or not isinstance(other, Tree):
                return other
            root = other
        entries = root.entries
        n = len(entries)
        if not n:
            return None
        i = bisect_left(entries, (h,))
        if i == n:
            i = 0
        p = i - 1 if i else n - 1
        dp = (h - entries[p][0]) & 0xFFFFFFFF
        dn = (entries[i][0] - h) & 0xFFFFFFFF
        if dp <= dn:
            i = p
        srv = entries[i][2]
        factor = self.cfg.balance_factor
        loop = 0
        while srv is avoid or (factor and not self._eligible(srv)):
            i += 1
            if i == n:
                i = 0
                loop += 1
                if loop > 1:
                    break
            srv = entries[i][2]
        return srv

    def chash_next(self, avoid: ServerRT | None) -> ServerRT | None:
        """chash_get_next_server: walk the ring from the last point."""
        root = self._root()
        if root is None or not isinstance(root, Tree):
            return root
        entries = root.entries
        n = len(entries)
        stop = node = self.last
        avoided = avoided_node = None
        while True:
            if node is not None:
                i = root.index(node) + 1
                node = entries[i] if i < n else None
            if node is None:
                node = entries[0] if n else None
            self.last = node
            if node is None:
                return None
            if stop is None:
                stop = node
            s = node[2]
            if has_room(s):
                if s is not avoid:
                    return s
                avoided, avoided_node = s, node
            if node is stop:
                break
        self.last = avoided_node
        return avoided
