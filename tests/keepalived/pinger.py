"""ICMP echo client for the ping-loss test: ``pinger.py TARGET INTERVAL DURATION``.

Prints ``sent received`` at the end.  Run inside the client namespace.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import sys
import time


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def main() -> None:
    target, interval, duration = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    got: set[int] = set()
    sent = 0
    end = time.monotonic() + duration
    next_send = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= next_send and now < end:
            head = struct.pack("!BBHHH", 8, 0, 0, ident, sent)
            pkt = struct.pack("!BBHHH", 8, 0, _checksum(head + b"pykeepalived"), ident, sent)
            s.sendto(pkt + b"pykeepalived", (target, 0))
            sent += 1
            next_send += interval
        if now >= end + 0.5:
            break
        r, _, _ = select.select([s], [], [], max(0.0, min(next_send, end + 0.5) - now))
        if r:
            data = s.recv(2048)
            ihl = (data[0] & 0x0F) * 4
            kind, _, _, rid, seq = struct.unpack_from("!BBHHH", data, ihl)
            if kind == 0 and rid == ident:
                got.add(seq)
    print(sent, len(got))


if __name__ == "__main__":
    main()
