"""Micro-benchmark: the cost of one server pick per balance algorithm.

``python -m benchmarks.lb_pick [--servers N] [--picks N]``: builds each
balancer over N real ``ServerRT`` objects (no sockets) and times ``pick()`` (best of 3 rounds)
(plus ``take``/``drop`` for leastconn, as the data plane calls them) with a
realistic HTTP request head (an RDP connection request for rdp-cookie)
and a client address; prints ns per pick.
Hash algorithms see 1,000 distinct keys in turn, so their key cache
(``pyhaproxy/lb/hashes.py``) holds them all after the first round.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

from tests.lb.fakes import farm

CASES = [
    ("roundrobin", ("roundrobin",), None),
    ("static-rr", ("static-rr",), None),
    ("leastconn", ("leastconn",), None),
    ("first", ("first",), None),
    ("random", ("random",), None),
    ("source (map-based)", ("source",), None),
    ("source (consistent)", ("source",), ("consistent",)),
    ("uri (map-based)", ("uri",), None),
    ("uri (consistent)", ("uri",), ("consistent",)),
    ("url_param (map-based)", ("url_param", "user"), None),
    ("hdr(host) (consistent)", ("hdr(host)",), ("consistent",)),
    ("rdp-cookie (map-based)", ("rdp-cookie(mstshash)",), None),
]


class _Transport:
    def __init__(self, host: str) -> None:
        self.peer = (host, 40000)

    def get_extra_info(self, name: str) -> tuple[str, int]:
        return self.peer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=10)
    ap.add_argument("--picks", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    heads = [
        f"GET /static/{i}/img.png?user=u{i} HTTP/1.1\r\nHost: h{i}.example.com\r\n"
        f"User-Agent: bench\r\nAccept: */*\r\n\r\n".encode()
        for i in range(1000)
    ]
    # X.224 Connection Requests carrying "Cookie: mstshash=uN" (rdp-cookie)
    rdp = []
    for i in range(1000):
        body = f"Cookie: mstshash=u{i}\r\n".encode() + b"\x01\x00\x08\x00\x03\x00\x00\x00"
        x224 = bytes([6 + len(body), 0xE0, 0, 0, 0, 0, 0]) + body
        rdp.append(b"\x03\x00" + (4 + len(x224)).to_bytes(2, "big") + x224)
    sessions = [
        SimpleNamespace(transport=_Transport(f"10.0.{i // 250}.{i % 250}")) for i in range(1000)
    ]
    specs = [f"s{i} weight {1 + i % 4}" for i in range(args.servers)]
    print(f"{args.servers} servers, {args.picks} picks each")
    print(f"{'algorithm':<26}{'ns/pick':>10}")
    for label, balance, hash_type in CASES:
        mode = "tcp" if label.startswith("rdp") else "http"
        lb, _ = farm(specs, balance=balance, hash_type=hash_type, mode=mode)
        pick, take, drop = lb.pick, lb.take, lb.drop
        payloads = rdp if mode == "tcp" else heads
        n = args.picks
        best = float("inf")
        for _ in range(args.rounds):  # the best round: the machine is shared
            t0 = time.perf_counter()
            for i in range(n):
                j = i % 1000
                s = pick(sessions[j], payloads[j], None)
                if take is not None:
                    s.cur += 1
                    take(s)
                    s.cur -= 1
                    drop(s)
            best = min(best, time.perf_counter() - t0)
        print(f"{label:<26}{best / n * 1e9:>10.0f}")


if __name__ == "__main__":
    main()
