"""What every balancer shares: the farm's usable servers and weights.

HAProxy keeps, per backend, the number of usable active and backup servers,
their total effective weight and the "first backup" (``fbck``): without
``option allbackups`` only the first usable backup (declaration order)
serves when no active server is usable (configuration.txt §4.2
"option allbackups").  A server is usable when it is not in maintenance,
not draining, operationally UP and of non-zero weight -- exactly
``ServerRT.eligible``.

Effective weights are HAProxy's ``eweight = ceil(uweight * wdiv / wmult)``:
dynamic algorithms scale user weights by 16 (``BE_WEIGHT_SCALE``), the
map-based ones divide them by their greatest common divisor.

Invariant: only ``update()`` (called by ``ServerRT`` after each change)
moves a server in or out of an algorithm's tables; ``pick()`` only reads
and advances positions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT

BE_WEIGHT_SCALE = 16
SRV_UWGHT_RANGE = 256
SRV_EWGHT_MAX = SRV_EWGHT_RANGE = SRV_UWGHT_RANGE * BE_WEIGHT_SCALE


@dataclass(frozen=True, slots=True)
class LbSettings:
    """A backend's ``balance`` / ``hash-type`` / ``hash-balance-factor``."""

    algo: str = "roundrobin"
    args: tuple[str, ...] = ()  # the words after the algorithm
    param: str = ""  # hdr(NAME), rdp-cookie(NAME), random(DRAWS)
    consistent: bool = False  # hash-type consistent (else map-based)
    function: str = "sdbm"
    avalanche: bool = False
    balance_factor: int = 0
    allbackups: bool = False
    mode: str = "tcp"


_INT = re.compile(r"[ \t\n\r\f\v]*([+-]?\d+)")


def atoi(text: str) -> int:
    """C's ``atoi``/``atol``, as HAProxy reads its numeric arguments: the
    leading digits, 0 when there are none."""
    m = _INT.match(text)
    return int(m.group(1)) if m else 0


def has_room(s: ServerRT) -> bool:
    """Not saturated (HAProxy: ``!maxconn || served < maxconn``)."""
    return not s.maxconn or s.cur < s.maxconn


def server_ids(options: list[dict[str, Any]]) -> list[int]:
    """HAProxy's ``puid``: the configured ``id``, else the first id not taken
    from the server's position on (configuration.txt §5.2 "id": "defaults to
    the server's position in the farm")."""
    used = {o["id"] for o in options if o.get("id")}
    ids = []
    nxt = 1
    for o in options:
        if o.get("id"):
            ids.append(o["id"])
        else:
            while nxt in used:
                nxt += 1
            ids.append(nxt)
            used.add(nxt)
        nxt += 1
    return ids


class Base:
    """Farm bookkeeping (HAProxy's ``recount_servers`` and
    ``update_backend_weight``); subclasses implement ``pick`` and
    ``changed``."""

    needs_request = False  # pick() reads the HTTP request head
    # a POST is held until its body is in (or the buffer full) before
    # pick() is called: ``balance url_param`` (http.py ``HttpSession._start``)
    waits_body = False
    take: Any = None  # optional callables(server) after a slot is taken
    drop: Any = None  # ... and released (leastconn)
    wdiv = BE_WEIGHT_SCALE
    wmult = 1

    def __init__(self, servers: list[ServerRT], ids: list[int], cfg: LbSettings) -> None:
        self.cfg = cfg
        self.servers = servers  # declaration order
        self.active = [s for s in servers if not s.backup]
        self.backups = [s for s in servers if s.backup]
        self.puid = dict(zip(map(id, servers), ids, strict=True))
        self.allbackups = cfg.allbackups
        # committed state: effective weight and usability as the tables know it
        self.cur_ew: dict[int, int] = {}
        self.cur_ok: dict[int, bool] = {}
        self.cumulative: dict[int, int] = {}
        self.srv_act = self.srv_bck = 0
        self.tot_wact = self.tot_wbck = 0
        self.tot_weight = self.tot_used = 0
        self.fbck: ServerRT | None = None
        self.setup_weights()
        for s in servers:
            self.cur_ew[id(s)] = self.eweight(s)
            self.cur_ok[id(s)] = self.usable(s)
        self.recount()

    # ---- weights and usability ---------------------------------------------

    def setup_weights(self) -> None:
        """Set ``wdiv``/``wmult`` before the first ``eweight`` (map: gcd)."""

    def eweight(self, s: ServerRT) -> int:
        # ``slowstart``: a dynamic algorithm scales by the server's warm-up
        # factor instead of wdiv (HAProxy's server_recalc_eweight)
        w = s.ramp if s.ramp and self.dynamic else self.wdiv
        return (s.uweight * w + self.wmult - 1) // self.wmult

    def usable(self, s: ServerRT) -> bool:
        return s.eligible and self.eweight(s) > 0

    def recount(self) -> None:
        """Counts and total weights of the usable servers (committed state)."""
        self.srv_act = self.srv_bck = self.tot_wact = self.tot_wbck = 0
        self.fbck = None
        cum = self.cumulative
        for s in self.servers:
            if not self.cur_ok[id(s)]:
                continue
            w = self.cur_ew[id(s)]
            if s.backup:
                if not self.srv_bck and not self.allbackups:
                    self.fbck = s
                self.srv_bck += 1
                cum[id(s)] = self.tot_wbck
                self.tot_wbck += w
            else:
                self.srv_act += 1
                cum[id(s)] = self.tot_wact
                self.tot_wact += w
        self.update_backend_weight()

    def update_backend_weight(self) -> None:
        if self.srv_act:
            self.tot_weight, self.tot_used = self.tot_wact, self.srv_act
        elif self.fbck is not None:
            self.tot_weight, self.tot_used = self.cur_ew[id(self.fbck)], 1
        else:
            self.tot_weight, self.tot_used = self.tot_wbck, self.srv_bck

    # ---- the interface -------------------------------------------------------

    def update(self, srv: ServerRT) -> None:
        """``srv``'s state or weight changed (``ServerRT._changed``)."""
        key = id(srv)
        if key not in self.cur_ew:
            return
        new_ew = self.eweight(srv)
        new_ok = srv.eligible and new_ew > 0
        old_ew, old_ok = self.cur_ew[key], self.cur_ok[key]
        if new_ew == old_ew and new_ok == old_ok:
            return
        self.changed(srv, old_ok, new_ok, old_ew, new_ew)
        self.cur_ew[key], self.cur_ok[key] = new_ew, new_ok
        self.recount()

    def changed(self, srv: ServerRT, old_ok: bool, new_ok: bool, old_ew: int, new_ew: int) -> None:
        """Move ``srv`` in the algorithm's tables (before the commit)."""

    def pick(self, sess: Any, head: bytes, avoid: ServerRT | None) -> ServerRT | None:
        raise NotImplementedError

    # ---- servers added and removed at run time (runtime/dynamic.py) ----------

    dynamic = True  # "add server" accepted (HAProxy's BE_LB_PROP_DYN)

    def add_server(self, srv: ServerRT, puid: int) -> None:
        """``add server``: ``srv`` joins the farm outside the tables, and
        enters them at its next change of state (``update()``), even when
        it is added ready (``enabled``): as HAProxy 2.6, whose balancers
        take a dynamic server in on its first state transition."""
        key = id(srv)
        if srv not in self.servers:  # usually the backend's own list
            self.servers.append(srv)
        (self.backups if srv.backup else self.active).append(srv)
        self.puid[key] = puid
        self.cur_ew[key] = self.eweight(srv)
        self.cur_ok[key] = False
        self.added(srv)

    def remove_server(self, srv: ServerRT) -> None:
        """``del server``: ``srv`` (out of the tables: in maintenance) leaves."""
        key = id(srv)
        assert not self.cur_ok[key], "a server leaves only once out of the tables"
        self.removed(srv)
        if srv in self.servers:
            self.servers.remove(srv)
        (self.backups if srv.backup else self.active).remove(srv)
        for table in (self.puid, self.cur_ew, self.cur_ok, self.cumulative):
            table.pop(key, None)

    def added(self, srv: ServerRT) -> None:
        """Give a new server its algorithm-specific state (none here)."""

    def removed(self, srv: ServerRT) -> None:
        """Drop a leaving server's algorithm-specific state."""

    def has_candidates(self) -> bool:
        """True if some server could serve once a connection slot frees."""
        return self.srv_act > 0 or self.srv_bck > 0
