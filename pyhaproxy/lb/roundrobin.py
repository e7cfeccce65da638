"""``balance roundrobin``: HAProxy's fast weighted round robin (lb_fwrr).

configuration.txt §4.2 "balance": "Each server is used in turns, according
to their weights ... This algorithm is dynamic".  The order is HAProxy's,
not a generic smooth WRR: each group (active, backup) has three trees --
``init`` (servers not yet placed in this window, heaviest first), ``curr``
(placed servers ordered by their next position ``npos``) and ``next``
(servers pushed to the following window) -- and a window of
``curr_weight`` positions.  A pick takes the first server of ``curr`` if
its position has come, else the heaviest one from ``init``; it then
advances that server by ``next_weight / eweight`` positions (carrying the
remainder in ``rweight``).  When ``curr`` and ``init`` are both exhausted
the trees switch.  Saturated (``maxconn``) servers are skipped and put
back as if consumed.  Weight changes and state changes re-place a server
as HAProxy does, so the sequence stays the same after them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyhaproxy.lb import register
from pyhaproxy.lb.base import BE_WEIGHT_SCALE, SRV_EWGHT_MAX, SRV_UWGHT_RANGE, Base, has_room
from pyhaproxy.lb.tree import Tree

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT


def cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class _Node:
    __slots__ = ("srv", "backup", "npos", "lpos", "rweight", "eweight", "tree", "entry")

    def __init__(self, srv: ServerRT, eweight: int) -> None:
        self.srv = srv
        self.backup = srv.backup
        self.npos = self.lpos = self.rweight = 0
        self.eweight = eweight  # the committed (current) effective weight
        self.tree: Tree | None = None
        self.entry: Any = None


class _Group:
    __slots__ = ("curr", "init", "next", "curr_pos", "curr_weight", "next_weight")

    def __init__(self, weight: int) -> None:
        self.curr = Tree()
        self.init = Tree()
        self.next = Tree()
        self.curr_pos = self.curr_weight = self.next_weight = weight


@register("roundrobin")
class RoundRobin(Base):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.nodes = {id(s): _Node(s, self.cur_ew[id(s)]) for s in self.servers}
        self.act = _Group(self.tot_wact)
        self.bck = _Group(self.tot_wbck)
        for s in self.servers:
            if self.cur_ok[id(s)]:
                node = self.nodes[id(s)]
                self._queue_by_weight(self._grp(node).init, node, node.eweight)

    def added(self, srv: ServerRT) -> None:
        self.nodes[id(srv)] = _Node(srv, self.cur_ew[id(srv)])

    def removed(self, srv: ServerRT) -> None:
        del self.nodes[id(srv)]

    def _grp(self, node: _Node) -> _Group:
        return self.bck if node.backup else self.act

    # ---- tree placement (HAProxy fwrr_queue_by_weight / fwrr_queue_srv) ------

    @staticmethod
    def _dequeue(node: _Node) -> None:
        if node.tree is not None and node.entry is not None:
            node.tree.delete(node.entry)
            node.entry = None

    @staticmethod
    def _queue_by_weight(tree: Tree, node: _Node, eweight: int) -> None:
        node.entry = tree.insert(SRV_EWGHT_MAX - eweight, node)
        node.tree = tree

    def _queue(self, node: _Node, eweight: int, usable: bool) -> None:
        grp = self._grp(node)
        if not usable:
            node.tree = None
        elif (
            eweight <= 0
            or node.npos >= 2 * grp.curr_weight
            or node.npos >= grp.curr_weight + grp.next_weight
        ):
            node.npos -= grp.curr_weight
            self._queue_by_weight(grp.next, node, eweight)
        else:
            key = (
                SRV_UWGHT_RANGE * node.npos
                + ((SRV_EWGHT_MAX + node.rweight - eweight) & 0xFFFFFFFF) // BE_WEIGHT_SCALE
            )
            node.entry = grp.curr.insert(key, node)
            node.tree = grp.curr

    def _get(self, node: _Node) -> None:
        """Prepare a server taken out of its tree (fwrr_get_srv)."""
        grp = self._grp(node)
        if node.tree is grp.init:
            node.npos = node.rweight = 0
        elif node.tree is grp.next:
            node.npos += grp.curr_weight
        elif node.tree is None:
            node.npos = grp.curr_pos

    # ---- state changes -------------------------------------------------------

    def changed(self, srv: ServerRT, old_ok: bool, new_ok: bool, old_ew: int, new_ew: int) -> None:
        node = self.nodes[id(srv)]
        grp = self._grp(node)
        if not old_ok and not new_ok:
            node.eweight = new_ew
            return
        if old_ok and not new_ok:  # fwrr_set_server_status_down
            grp.next_weight -= old_ew
            self._dequeue(node)
            node.tree = None
            node.eweight = new_ew
            return
        if not old_ok and new_ok:  # fwrr_set_server_status_up
            grp.next_weight += new_ew
            self._get(node)
            node.npos = grp.curr_pos + cdiv(
                grp.next_weight + grp.curr_weight - grp.curr_pos, new_ew
            )
            self._queue(node, new_ew, True)
            node.eweight = new_ew
            return
        # still usable, new weight (fwrr_update_server_weight)
        grp.next_weight = grp.next_weight - old_ew + new_ew
        if node.tree is grp.init:
            self._dequeue(node)
            self._queue_by_weight(grp.init, node, new_ew)
        elif node.tree is None:
            self._dequeue(node)
            self._get(node)
            node.npos = grp.curr_pos + cdiv(
                grp.next_weight + grp.curr_weight - grp.curr_pos, new_ew
            )
            self._queue(node, new_ew, True)
        else:
            self._get(node)
            if new_ew > 0:
                prev_next = node.npos
                step = cdiv(grp.next_weight, new_ew)
                node.npos = node.lpos + step
                node.rweight = 0
                if node.npos > prev_next:
                    node.npos = prev_next
                if node.npos < grp.curr_pos + 2:
                    node.npos = grp.curr_pos + step
            else:
                node.npos = grp.curr_pos + grp.curr_weight
            self._dequeue(node)
            self._queue(node, new_ew, True)
        node.eweight = new_ew

    # ---- selection -----------------------------------------------------------

    def _from_group(self, grp: _Group) -> _Node | None:
        s1 = grp.curr.first()
        if s1 is not None and s1.eweight and s1.npos <= grp.curr_pos:
            return s1
        s2 = grp.init.first()
        if s2 is not None and s2.eweight:
            s2.npos = s2.rweight = 0
            return s2
        return s1

    @staticmethod
    def _advance(grp: _Group, node: _Node) -> None:
        """fwrr_update_position: the server's next place in the window."""
        ew = node.eweight
        if not ew:
            return
        if not node.npos:
            node.npos = grp.curr_pos
        node.lpos = node.npos
        node.npos += grp.next_weight // ew
        node.rweight += grp.next_weight % ew
        if node.rweight >= ew:
            node.rweight -= ew
            node.npos += 1

    def pick(self, sess: Any, head: bytes, avoid: ServerRT | None) -> ServerRT | None:
        if self.srv_act:
            grp = self.act
        elif self.fbck is not None:
            return self.fbck
        elif self.srv_bck:
            grp = self.bck
        else:
            return None
        # fast path: the first server of `curr` is due, has room, is not
        # avoided -- what the general loop below does in that case
        entries = grp.curr.entries
        if entries and grp.curr_weight:
            node = entries[0][2]
            ew = node.eweight
            srv = node.srv
            pos = grp.curr_pos
            if (
                ew
                and node.npos <= pos
                and srv is not avoid
                and (not srv.maxconn or srv.cur < srv.maxconn)
            ):
                nw = grp.next_weight
                npos = node.npos or pos
                node.lpos = npos
                rw = node.rweight + nw % ew
                npos += nw // ew
                if rw >= ew:
                    rw -= ew
                    npos += 1
                node.npos, node.rweight = npos, rw
                del entries[0]
                node.entry = None
                grp.curr_pos = pos + 1
                self._queue(node, ew, True)
                return srv
        return self._pick(grp, avoid)

    def _pick(self, grp: _Group, avoid: ServerRT | None) -> ServerRT | None:
        """fwrr_get_next_server's loop: switch trees, skip full servers."""
        switched = False
        avoided: _Node | None = None
        full: list[_Node] = []
        node: _Node | None = None
        found = False
        while True:
            if not grp.curr_weight:
                grp.curr_pos = grp.curr_weight = grp.next_weight
            while True:
                node = self._from_group(grp)
                if node is not None:
                    break
                if switched:
                    break
                switched = True
                grp.init, grp.next = grp.next, grp.init
                grp.curr_weight = grp.next_weight
                grp.curr_pos = grp.curr_weight
            if node is None:
                if avoided is not None:
                    node = avoided
                    found = True
                break
            self._advance(grp, node)
            self._dequeue(node)
            grp.curr_pos += 1
            if has_room(node.srv):
                if node.srv is not avoid or avoided is not None:
                    found = True
                    break
                avoided = node
            full.append(node)
        if found:
            assert node is not None
            self._queue(node, node.eweight, True)
        else:
            node = None
        for f in full:
            if f is not node:
                if switched:
                    self._queue_by_weight(grp.init, f, f.eweight)
                else:
                    self._queue(f, f.eweight, True)
        return node.srv if node is not None else None
