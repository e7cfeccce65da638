"""Server selection: the small ``pick()`` interface balancers implement.

Only a weighted round robin lives here for now (the ``balance`` algorithms
come with their own issue, one module each).  ``pick()`` returns a usable
server (not disabled, weight > 0, below its ``maxconn``), active servers
first, backups only when no active server is usable (all backups share the
load here; HAProxy uses the first backup unless ``option allbackups``).
Equal weights alternate in declaration order, as HAProxy's roundrobin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT


class RoundRobin:
    """Smooth weighted round robin over the active servers, then the backups."""

    def __init__(self, servers: list[ServerRT]) -> None:
        self.active = [s for s in servers if not s.backup]
        self.backup = [s for s in servers if s.backup]
        self._cur = {id(s): 0 for s in servers}

    def _pick(self, servers: list[ServerRT]) -> ServerRT | None:
        best = None
        total = 0
        cur = self._cur
        for s in servers:
            if not s.usable():
                continue
            key = id(s)
            cur[key] += s.weight
            total += s.weight
            if best is None or cur[key] > cur[id(best)]:
                best = s
        if best is not None:
            cur[id(best)] -= total
        return best

    def pick(self) -> ServerRT | None:
        return self._pick(self.active) or self._pick(self.backup)

    def update(self, srv: ServerRT) -> None:
        """A server's state or weight changed (``ServerRT._changed``)."""
        self._cur[id(srv)] = 0

    def has_candidates(self) -> bool:
        """True if some server could serve once a connection slot frees."""
        return any(s.eligible for s in self.active + self.backup)
