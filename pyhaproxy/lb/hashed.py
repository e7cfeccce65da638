"""``balance source|uri|url_param|hdr(NAME)|rdp-cookie(NAME)``: a request
key hashed onto the map (``hash-type map-based``, the default: ``hash %
total weight``) or the consistent ring (``hash-type consistent``).  configuration.txt §4.2: when
the key is missing, "round robin will apply" -- the map's or the ring's own
walk.  With a single usable server the key is not even read (as HAProxy),
except by url_param and rdp-cookie.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyhaproxy.lb import register
from pyhaproxy.lb.base import LbSettings
from pyhaproxy.lb.chash import ChashBase
from pyhaproxy.lb.keys import (
    Key,
    hdr_key,
    rdp_cookie_key,
    source_key,
    uri_key,
    url_param_key,
)
from pyhaproxy.lb.map import MapBase

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT


class MapHash(MapBase):
    needs_request = True

    def __init__(self, servers: list, ids: list, cfg: LbSettings, key: Key, skip1: bool) -> None:
        super().__init__(servers, ids, cfg)
        self.key = key
        self.skip1 = skip1  # one usable server: no hashing (source, uri, hdr)

    def pick(self, sess: Any, head: bytes, avoid: ServerRT | None) -> ServerRT | None:
        if not self.tot_weight:
            return None
        h = 0 if self.skip1 and self.tot_used == 1 else self.key(sess, head)
        if h is None:
            return self.map_rr(avoid)
        return self.map_hash(h)


class ChashHash(ChashBase):
    needs_request = True

    def __init__(self, servers: list, ids: list, cfg: LbSettings, key: Key, skip1: bool) -> None:
        super().__init__(servers, ids, cfg)
        self.key = key
        self.skip1 = skip1

    def pick(self, sess: Any, head: bytes, avoid: ServerRT | None) -> ServerRT | None:
        if not self.tot_weight:
            return None
        h = 0 if self.skip1 and self.tot_used == 1 else self.key(sess, head)
        if h is None:
            return self.chash_next(avoid)
        return self.chash_hash(h, avoid)


def _factory(make_key: Any, skip1: bool = True, waits_body: bool = False) -> Any:
    def build(servers: list, ids: list, cfg: LbSettings) -> Any:
        cls = ChashHash if cfg.consistent else MapHash
        lb = cls(servers, ids, cfg, make_key(cfg), skip1)
        lb.waits_body = waits_body
        return lb

    return build


register("source")(_factory(source_key))
register("uri")(_factory(uri_key))
# HAProxy 2.6 waits for a POST body before choosing (http_process_request:
# AN_REQ_HTTP_BODY for BE_LB_ALGO_PH), whatever ``check_post`` says
register("url_param")(_factory(url_param_key, skip1=False, waits_body=True))
register("hdr")(_factory(hdr_key))
# a missing cookie means round robin even with one server left, so the
# key is always read (get_server_rch); with one server any hash picks it
register("rdp-cookie")(_factory(rdp_cookie_key, skip1=False))
