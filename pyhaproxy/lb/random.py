"""``balance random[(DRAWS)]``: random keys on the consistent ring, the
least loaded of DRAWS draws (default 2, "Power of Two Random Choices";
configuration.txt §4.2 "balance").  Weights are respected through the
ring; ``hash-balance-factor`` applies.  A saturated choice means "queue".
"""

from __future__ import annotations

import random as _random
from typing import TYPE_CHECKING, Any

from pyhaproxy.lb import register
from pyhaproxy.lb.chash import ChashBase

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT


@register("random")
class Random(ChashBase):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.draws = int(self.cfg.param) if self.cfg.param else 2
        self.rand = _random.getrandbits

    def pick(self, sess: Any, head: bytes, avoid: ServerRT | None) -> ServerRT | None:
        if not self.tot_weight:
            return None
        ew = self.cur_ew
        curr = None
        for _ in range(max(self.draws, 1)):
            prev = curr
            curr = self.chash_hash(self.rand(32), avoid)
            if curr is None:
                break
            if (
                prev is not None
                and prev is not curr
                and curr.cur * ew[id(prev)] > prev.cur * ew[id(curr)]
            ):
                curr = prev
        if curr is not None and curr.maxconn and curr.cur >= curr.maxconn:
            return None
        return curr
