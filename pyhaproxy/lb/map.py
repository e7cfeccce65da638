"""HAProxy's server map (lb_map): the static table of ``static-rr`` and of
``hash-type map-based``.

The map holds ``tot_weight`` slots filled with the usable servers of the
serving group (active, else backup), in a smooth weighted order that always
starts with the first declared server; weights are divided by their
greatest common divisor first (configuration.txt §4.2 "hash-type":
"the hash table is a static array containing all alive servers").  Any
state change marks the map for recomputation at the next pick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyhaproxy.lb.base import Base, has_room

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT


class MapBase(Base):
    """The map and its round-robin walk (``map_get_server_rr``)."""

    dynamic = False  # a static map: no "add server" (HAProxy's BE_LB_PROP_DYN)

    def setup_weights(self) -> None:
        self.wdiv = 1
        pgcd = 1
        weights = [s.iweight for s in self.servers]
        nz = [i for i, w in enumerate(weights) if w]
        if nz:
            pgcd = weights[nz[0]]
            for w in weights[nz[0] + 1 :]:
                if pgcd <= 1:
                    break
                while w:
                    pgcd, w = w, pgcd % w
        self.wmult = pgcd
        self.map: list[Any] = []
        self.recalc = True
        self.rr_idx = 0

    def changed(self, srv: ServerRT, old_ok: bool, new_ok: bool, old_ew: int, new_ew: int) -> None:
        if old_ok or new_ok:
            self.recalc = True

    def _recalc(self) -> None:
        """recalc_server_map: fill ``tot_weight`` slots, first declared first."""
        self.recalc = False
        tot = self.tot_weight
        if not self.tot_used:
            self.map = []
            return
        backup = not self.srv_act
        cands = [s for s in self.servers if s.backup == backup and self.cur_ok[id(s)]]
        ew = [self.cur_ew[id(s)] for s in cands]
        score = [0] * len(cands)
        table: list[Any] = []
        for _ in range(tot):
            best = -1
            top = 0
            for i in range(len(cands)):
                if tot == 1:
                    best = i
                    break
                score[i] += ew[i]
                v = (score[i] + tot) // tot
                if best < 0 or v > top:
                    top = v
                    best = i
            table.append(cands[best] if best >= 0 else None)
            if best >= 0:
                score[best] -= tot
        self.map = table

    def map_rr(self, avoid: ServerRT | None) -> ServerRT | None:
        tot = self.tot_weight
        if not tot:
            return None
        if self.recalc:
            self._recalc()
        table = self.map
        if self.rr_idx < 0 or self.rr_idx >= tot:
            self.rr_idx = 0
        start = idx = self.rr_idx
        avoided = None
        avoididx = 0
        while True:
            srv = table[idx]
            idx += 1
            if srv is not None and has_room(srv):
                if srv is not avoid:
                    self.rr_idx = idx
                    return srv
                avoided = srv
                avoididx = idx
            if idx == tot:
                idx = 0
            if idx == start:
                break
        if avoided is not None:
            self.rr_idx = avoididx
        return avoided

    def map_hash(self, h: int) -> ServerRT | None:
        tot = self.tot_weight
        if not tot:
            return None
        if self.recalc:
            self._recalc()
        return self.map[h % tot]
