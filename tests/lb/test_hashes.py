"""The hash functions against reference values (HAProxy's hash.c)."""

from __future__ import annotations

from pyhaproxy.lb.hashes import cached, crc32, djb2, full_hash, sdbm, wt6


def test_crc32_check_value():
    assert crc32(b"123456789") == 0xCBF43926


def test_known_values():
    assert sdbm(b"") == 0
    assert djb2(b"") == 5381
    assert djb2(b"a") == 5381 * 33 + 97
    assert sdbm(b"ab") == (98 + (97 << 6) + (97 << 16) - 97) & 0xFFFFFFFF
    assert wt6(b"") == 0xA53C965A ^ 0x5CA6953A
    assert full_hash(0) == (0x6B4ED927 * 3221225473) & 0xFFFFFFFF


def test_all_32_bit():
    for fn in (sdbm, djb2, wt6, crc32):
        for key in (b"x" * 100, bytes(range(256))):
            assert 0 <= fn(key) <= 0xFFFFFFFF


def test_cached_is_transparent():
    h = cached(sdbm, True)
    assert h(b"/a") == full_hash(sdbm(b"/a"))
    assert h(b"/a") == full_hash(sdbm(b"/a"))
