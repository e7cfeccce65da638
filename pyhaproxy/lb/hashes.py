"""Hash functions of ``hash-type`` (configuration.txt §4.2 "hash-type").

Each function maps ``bytes`` to an unsigned 32-bit integer exactly as
HAProxy's ``hash_sdbm``, ``hash_djb2``, ``hash_wt6`` and ``hash_crc32``
do, so a key lands on the same server in both.  ``full_hash`` is the
"avalanche" modifier (Bob Jenkins' 32-bit integer mix, also used to place
the consistent-hash ring points).  The byte loops are pure Python: callers
on the hot path go through ``cached()``, which remembers recent keys.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

M32 = 0xFFFFFFFF


def sdbm(key: bytes) -> int:
    """sdbm: ``h = c + (h << 6) + (h << 16) - h`` per byte."""
    h = 0
    for c in key:
        h = (c + (h << 6) + (h << 16) - h) & M32
    return h


def djb2(key: bytes) -> int:
    """djb2: ``h = h * 33 + c`` per byte, from 5381."""
    h = 5381
    for c in key:
        h = (h * 33 + c) & M32
    return h


def wt6(key: bytes) -> int:
    """wt6: HAProxy's own two-register rotating hash."""
    h0 = 0xA53C965A
    h1 = 0x5CA6953A
    step0 = 6
    step1 = 18
    for t in key:
        h0 = ~(h0 ^ t) & M32
        h1 = ~(h1 + t) & M32
        t = ((h1 << step0) | (h1 >> (32 - step0))) & M32
        h1 = ((h0 << step1) | (h0 >> (32 - step1))) & M32
        h0 = t
        t = ((h0 >> 16) ^ h1) & 0xFFFF
        step0 = t & 0x1F
        step1 = t >> 11
    return h0 ^ h1


def crc32(key: bytes) -> int:
    """The Ethernet/gzip CRC32 (reflected 0xEDB88320, inverted in and out)."""
    return zlib.crc32(key) & M32


def full_hash(a: int) -> int:
    """The avalanche mix applied by the ``avalanche`` modifier: one of Bob
    Jenkins' integer hashes followed by HAProxy's multiplication."""
    a = ((a + 0x7ED55D16) + (a << 12)) & M32
    a = ((a ^ 0xC761C23C) ^ (a >> 19)) & M32
    a = ((a + 0x165667B1) + (a << 5)) & M32
    a = ((a + 0xD3A2646C) ^ (a << 9)) & M32
    a = ((a + 0xFD7046C5) + (a << 3)) & M32
    a = ((a ^ 0xB55A4F09) ^ (a >> 16)) & M32
    # then spread over the ring by a large prime close to 3/4 of 2^32
    return (a * 3221225473) & M32


FUNCTIONS: dict[str, Callable[[bytes], int]] = {
    "sdbm": sdbm,
    "djb2": djb2,
    "wt6": wt6,
    "crc32": crc32,
}

_CACHE_MAX = 4096


def cached(fn: Callable[[bytes], int], avalanche: bool) -> Callable[[bytes], int]:
    """``fn`` (then ``full_hash`` if ``avalanche``) remembering recent keys:
    a bounded dict, emptied when full, so a repeated URI or parameter costs
    one lookup instead of a byte loop."""
    memo: dict[bytes, int] = {}

    def hashed(key: bytes) -> int:
        h = memo.get(key)
        if h is None:
            h = fn(key)
            if avalanche:
                h = full_hash(h)
            if len(memo) >= _CACHE_MAX:
                memo.clear()
            memo[key] = h
        return h

    return hashed
