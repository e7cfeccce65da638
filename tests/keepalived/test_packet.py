"""VRRP codec: byte-for-byte agreement with adverts captured from keepalived 2.2.7."""

from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyhaproxy.keepalived.packet import (
    AUTH_NONE,
    AUTH_PASS,
    MCAST_V4,
    MCAST_V6,
    Advert,
    PacketError,
    checksum,
    decode,
    encode,
    encode_ipv4,
    parse_ipv4,
)

SRC4 = ip_address("10.9.0.1")
SRC6 = ip_address("fe80::54e2:21ff:fec0:655c")

# Captured on the wire (IPv4 datagrams, or the IPv6 payload) from Debian's
# keepalived v2.2.7 in a network namespace.
V2_PASS = bytes.fromhex(
    "45c0002c00010000ff70d0840a090001e0000012213396020101c56f0a0900640a0900657365637265743132"
)
V2_NOAUTH_INT2 = bytes.fromhex(
    "45c0002800010000ff70d0880a090001e000001221366401000270560a0900670000000000000000"
)
V3_IPV4 = bytes.fromhex("45c0002000010000ff70d0900a090001e0000012313478010064615e0a090066")
V3_IPV6 = bytes.fromhex("3135640100649347fd000000000000000000000000000100")


def test_v2_pass_auth_matches_keepalived():
    adv = Advert(
        2,
        51,
        150,
        (ip_address("10.9.0.100"), ip_address("10.9.0.101")),
        100,
        AUTH_PASS,
        b"secret12",
    )
    payload = encode(adv)
    assert encode_ipv4(payload, SRC4, MCAST_V4) == V2_PASS
    src, dst, ttl, got = parse_ipv4(V2_PASS)
    assert (src, dst, ttl) == (SRC4, MCAST_V4, 255)
    assert decode(got, src, dst) == adv


def test_v2_no_auth_carries_eight_zero_octets_and_seconds_interval():
    adv = Advert(2, 54, 100, (ip_address("10.9.0.103"),), 200)
    assert encode_ipv4(encode(adv), SRC4, MCAST_V4) == V2_NOAUTH_INT2
    decoded = decode(parse_ipv4(V2_NOAUTH_INT2)[3], SRC4, MCAST_V4)
    assert decoded.interval == 200 and decoded.auth_type == AUTH_NONE


def test_v3_ipv4_checksum_includes_pseudo_header():
    adv = Advert(3, 52, 120, (ip_address("10.9.0.102"),), 100)
    assert encode_ipv4(encode(adv, SRC4, MCAST_V4), SRC4, MCAST_V4) == V3_IPV4
    assert decode(parse_ipv4(V3_IPV4)[3], SRC4, MCAST_V4) == adv
    # The same message from another source fails: the pseudo-header is covered.
    with pytest.raises(PacketError, match="checksum"):
        decode(parse_ipv4(V3_IPV4)[3], ip_address("10.9.0.2"), MCAST_V4)


def test_v3_ipv6_matches_keepalived():
    adv = Advert(3, 53, 100, (ip_address("fd00::100"),), 100)
    assert encode(adv, SRC6, MCAST_V6) == V3_IPV6
    assert decode(V3_IPV6, SRC6, MCAST_V6, family=6) == adv


def test_v3_needs_addresses_for_checksum():
    with pytest.raises(ValueError, match="source and destination"):
        encode(Advert(3, 1, 100, ()))


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda b: bytes([0x11]) + b[1:], "invalid version 1"),
        (lambda b: bytes([0x22]) + b[1:], "invalid type 2"),
        (lambda b: b[:5], "too short"),
        (lambda b: b[:3] + bytes([3]) + b[4:], "invalid ip number count"),
        (lambda b: b[:8] + bytes([11]) + b[9:], "checksum"),
    ],
)
def test_decode_rejects_bad_packets(mutate, reason):
    payload = parse_ipv4(V2_PASS)[3]
    with pytest.raises(PacketError, match=reason):
        decode(mutate(payload), SRC4, MCAST_V4)


def test_checksum_rfc1071_example():
    # RFC 1071 §3 numerical example: sum 0xddf2 -> checksum ~0xddf2.
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2) & 0xFFFF


addresses4 = st.lists(st.integers(0, 2**32 - 1).map(ip_address), min_size=0, max_size=20)


@given(
    version=st.sampled_from([2, 3]),
    vrid=st.integers(1, 255),
    prio=st.integers(0, 255),
    addrs=addresses4,
    interval=st.integers(1, 40).map(lambda s: s * 100),
)
def test_roundtrip(version, vrid, prio, addrs, interval):
    adv = Advert(version, vrid, prio, tuple(addrs), interval)
    assert decode(encode(adv, SRC4, MCAST_V4), SRC4, MCAST_V4) == adv
