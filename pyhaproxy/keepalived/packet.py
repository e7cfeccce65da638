"""VRRP advertisement codec: RFC 3768 §5 (version 2) and RFC 5798 §5 (version 3).

Pure functions, no I/O.  ``encode`` builds the VRRP message (the IP header is
the kernel's, except in ``encode_ipv4`` used by tests and tools); ``decode``
parses and validates one, raising ``PacketError`` with the reason keepalived
would log.

Checksums (RFC 1071 one's complement sum):
  * v2 — over the VRRP message only (RFC 3768 §5.3.8);
  * v3 — over the IPv4 or IPv6 pseudo-header followed by the VRRP message
    (RFC 5798 §5.2.8; pseudo-headers of RFC 768 and RFC 2460 §8.1).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from pyhaproxy.keepalived.model import IPAddress

__all__ = [
    "IPPROTO_VRRP",
    "MCAST_V4",
    "MCAST_V6",
    "AUTH_NONE",
    "AUTH_PASS",
    "Advert",
    "PacketError",
    "checksum",
    "encode",
    "decode",
    "encode_ipv4",
    "parse_ipv4",
]

IPPROTO_VRRP = 112
MCAST_V4 = ipaddress.IPv4Address("224.0.0.18")
MCAST_V6 = ipaddress.IPv6Address("ff02::12")
TYPE_ADVERTISEMENT = 1
AUTH_NONE = 0
AUTH_PASS = 1
AUTH_AH = 2
AUTH_LEN = 8  # RFC 3768 §5.3.10: authentication data, 8 octets
IPTOS_PREC_INTERNETCONTROL = 0xC0


class PacketError(ValueError):
    """An advertisement that must be discarded (RFC 5798 §7.1); says why."""


@dataclass(frozen=True, slots=True)
class Advert:
    """One VRRP advertisement.

    ``interval`` is in centiseconds for both versions (v2 carries seconds on
    the wire).  ``auth_type``/``auth_data`` exist only in version 2.
    """

    version: int
    vrid: int
    priority: int
    addresses: tuple[IPAddress, ...]
    interval: int = 100
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(src: IPAddress, dst: IPAddress, length: int) -> bytes:
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    return src.packed + dst.packed + struct.pack("!I3xB", length, IPPROTO_VRRP)


def encode(adv: Advert, src: IPAddress | None = None, dst: IPAddress | None = None) -> bytes:
    """The VRRP message for ``adv``; v3 needs the IP ``src`` and ``dst`` for its checksum."""
    if adv.version not in (2, 3):
        raise ValueError(f"VRRP version {adv.version} does not exist")
    addrs = b"".join(a.packed for a in adv.addresses)
    head = struct.pack(
        "!BBBB", (adv.version << 4) | TYPE_ADVERTISEMENT, adv.vrid, adv.priority, len(adv.addresses)
    )
    if adv.version == 2:
        # RFC 3768 §5.3.7: advertisement interval in seconds.
        secs = max(1, round(adv.interval / 100))
        auth = adv.auth_data[:AUTH_LEN].ljust(AUTH_LEN, b"\0")
        if adv.auth_type == AUTH_NONE:
            auth = bytes(AUTH_LEN)
        body = head + struct.pack("!BB", adv.auth_type, secs)
        msg = body + b"\0\0" + addrs + auth
        return body + struct.pack("!H", checksum(msg)) + addrs + auth
    if src is None or dst is None:
        raise ValueError("VRRPv3 checksum needs the source and destination addresses")
    body = head + struct.pack("!H", adv.interval & 0x0FFF)
    msg = body + b"\0\0" + addrs
    csum = checksum(_pseudo_header(src, dst, len(msg)) + msg)
    return body + struct.pack("!H", csum) + addrs


def decode(data: bytes, src: IPAddress, dst: IPAddress, family: int = 4) -> Advert:
    """Parse and validate a VRRP message received from ``src`` to ``dst``.

    Checks of RFC 5798 §7.1 that need no instance state: version, type,
    length against the address count, checksum.
    """
    if len(data) < 8:
        raise PacketError(f"packet too short ({len(data)} bytes)")
    ver_type, vrid, priority, count = struct.unpack_from("!BBBB", data)
    version, kind = ver_type >> 4, ver_type & 0x0F
    if version not in (2, 3):
        raise PacketError(f"invalid version {version}")
    if kind != TYPE_ADVERTISEMENT:
        raise PacketError(f"invalid type {kind}")
    alen = 4 if family == 4 else 16
    need = 8 + count * alen + (AUTH_LEN if version == 2 else 0)
    if len(data) < need:
        raise PacketError(f"receive an invalid ip number count associated with VRID {vrid}")
    addrs = tuple(
        ipaddress.ip_address(data[8 + i * alen : 8 + (i + 1) * alen]) for i in range(count)
    )
    if version == 2:
        if family != 4:
            raise PacketError("VRRPv2 over IPv6 is not valid")
        auth_type, secs = data[4], data[5]
        if checksum(data[:need]) != 0:
            raise PacketError("Invalid VRRPv2 checksum")
        auth = data[need - AUTH_LEN : need] if auth_type != AUTH_NONE else b""
        return Advert(2, vrid, priority, addrs, secs * 100, auth_type, auth)
    (interval,) = struct.unpack_from("!H", data, 4)
    msg = data[:need]
    if checksum(_pseudo_header(src, dst, len(msg)) + msg) != 0:
        raise PacketError("Invalid VRRPv3 checksum")
    return Advert(3, vrid, priority, addrs, interval & 0x0FFF)


def encode_ipv4(payload: bytes, src: IPAddress, dst: IPAddress, ident: int = 1) -> bytes:
    """An IPv4 datagram carrying ``payload`` as keepalived sends it (TOS 0xc0, TTL 255)."""
    head = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        IPTOS_PREC_INTERNETCONTROL,
        20 + len(payload),
        ident,
        0,
        255,
        IPPROTO_VRRP,
        0,
        src.packed,
        dst.packed,
    )
    return head[:10] + struct.pack("!H", checksum(head)) + head[12:] + payload


def parse_ipv4(datagram: bytes) -> tuple[IPAddress, IPAddress, int, bytes]:
    """``(src, dst, ttl, payload)`` of an IPv4 datagram read from a raw socket."""
    if len(datagram) < 20 or datagram[0] >> 4 != 4:
        raise PacketError("not an IPv4 datagram")
    ihl = (datagram[0] & 0x0F) * 4
    (total,) = struct.unpack_from("!H", datagram, 2)
    ttl = datagram[8]
    src = ipaddress.IPv4Address(datagram[12:16])
    dst = ipaddress.IPv4Address(datagram[16:20])
    return src, dst, ttl, datagram[ihl : max(ihl, min(total, len(datagram)))]
