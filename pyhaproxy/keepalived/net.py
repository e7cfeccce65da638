"""The thin I/O layer: VRRP sockets, addresses through netlink, ARP / NA.

Nothing here decides anything; ``instance`` drives it.  Sockets follow what
keepalived does on the wire: raw IP protocol 112, bound to the device, the
multicast group (224.0.0.18 / ff02::12) joined on that interface, TTL / hop
limit 255 (RFC 5798 §5.1.1.3), IPv4 TOS 0xc0, multicast loopback off.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyroute2 import IPRoute

from pyhaproxy.keepalived.model import IPAddress, VirtualIP
from pyhaproxy.keepalived.packet import IPPROTO_VRRP, MCAST_V4, MCAST_V6, PacketError, parse_ipv4

IFA_F_NODAD = 0x02
IFF_UP = 0x1
IFF_RUNNING = 0x40
IFF_LOWER_UP = 0x10000
ETH_P_ARP = 0x0806
_IPV6_HOPLIMIT = 52  # IPV6_HOPLIMIT ancillary data
_IPV6_PKTINFO = 50


def _mreqn(group: IPAddress, ifindex: int) -> bytes:
    return group.packed + bytes(4) + struct.pack("@i", ifindex)


@dataclass(slots=True)
class Received:
    src: IPAddress
    dst: IPAddress
    ttl: int
    payload: bytes


class VrrpSocket:
    """Send and receive VRRP messages of one address family on one interface.

    Receiving uses an unbound socket (a raw socket bound to an address would
    only see packets sent to that address, not to the group); sending uses a
    second socket bound to the source address, so the kernel uses the address
    the v3 checksum was computed with.
    """

    def __init__(self, ifname: str, family: int, src: IPAddress, multicast: bool) -> None:
        self.ifname = ifname
        self.family = family
        self.src = src
        self.ifindex = socket.if_nametoindex(ifname)
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        self.rx = socket.socket(af, socket.SOCK_RAW, IPPROTO_VRRP)
        self.tx = socket.socket(af, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            for s in (self.rx, self.tx):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
                s.setblocking(False)
            if family == 4:
                self._setup_v4(multicast)
            else:
                self._setup_v6(multicast)
        except OSError:
            self.close()
            raise

    def _setup_v4(self, multicast: bool) -> None:
        ip = socket.IPPROTO_IP
        self.tx.setsockopt(ip, socket.IP_TOS, 0xC0)
        self.tx.setsockopt(ip, socket.IP_TTL, 255)
        self.tx.setsockopt(ip, socket.IP_MULTICAST_TTL, 255)
        self.tx.setsockopt(ip, socket.IP_MULTICAST_LOOP, 0)
        self.tx.setsockopt(ip, socket.IP_MULTICAST_IF, _mreqn(MCAST_V4, self.ifindex))
        self.tx.bind((str(self.src), 0))
        if multicast:
            self.rx.setsockopt(ip, socket.IP_ADD_MEMBERSHIP, _mreqn(MCAST_V4, self.ifindex))

    def _setup_v6(self, multicast: bool) -> None:
        ip6 = socket.IPPROTO_IPV6
        self.tx.setsockopt(ip6, socket.IPV6_MULTICAST_HOPS, 255)
        self.tx.setsockopt(ip6, socket.IPV6_UNICAST_HOPS, 255)
        self.tx.setsockopt(ip6, socket.IPV6_MULTICAST_LOOP, 0)
        self.tx.setsockopt(ip6, socket.IPV6_MULTICAST_IF, self.ifindex)
        self.tx.bind((str(self.src), 0, 0, self.ifindex))
        self.rx.setsockopt(ip6, socket.IPV6_RECVHOPLIMIT, 1)
        self.rx.setsockopt(ip6, socket.IPV6_RECVPKTINFO, 1)
        if multicast:
            mreq = MCAST_V6.packed + struct.pack("@I", self.ifindex)
            self.rx.setsockopt(ip6, socket.IPV6_JOIN_GROUP, mreq)

    def fileno(self) -> int:
        return self.rx.fileno()

    def send(self, payload: bytes, dst: IPAddress) -> None:
        if self.family == 4:
            self.tx.sendto(payload, (str(dst), 0))
        else:
            self.tx.sendto(payload, (str(dst), 0, 0, self.ifindex))

    def recv(self) -> Received:
        """One datagram; raises ``BlockingIOError`` when there is none."""
        if self.family == 4:
            data = self.rx.recv(65535)
            src, dst, ttl, payload = parse_ipv4(data)
            return Received(src, dst, ttl, payload)
        data, anc, _flags, addr = self.rx.recvmsg(65535, 256)
        ttl, dst = -1, MCAST_V6
        for level, kind, value in anc:
            if level == socket.IPPROTO_IPV6 and kind == _IPV6_HOPLIMIT:
                ttl = struct.unpack("@i", value[:4])[0]
            elif level == socket.IPPROTO_IPV6 and kind == _IPV6_PKTINFO:
                dst = ipaddress.IPv6Address(value[:16])
        src = ipaddress.IPv6Address(addr[0].split("%")[0])
        if ttl < 0:
            raise PacketError("no hop limit received")
        return Received(src, dst, ttl, data)

    def close(self) -> None:
        self.rx.close()
        self.tx.close()


class Netlink:
    """Addresses and links through rtnetlink (pyroute2).

    pyroute2's synchronous ``IPRoute`` runs its own event loop, which cannot
    run inside the daemon's; so it lives in one worker thread and every
    method is a short blocking call into that thread.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="netlink")
        self.ipr = self._pool.submit(IPRoute).result()

    def close(self) -> None:
        self._pool.submit(self.ipr.close).result()
        self._pool.shutdown()

    def _call(self, fn, *args):
        return self._pool.submit(fn, *args).result()

    def ifindex(self, ifname: str) -> int | None:
        return self._call(self._ifindex, ifname)

    def link_up(self, ifname: str) -> bool:
        """True when the link is administratively up and has carrier."""
        return self._call(self._link_up, ifname)

    def mac(self, ifname: str) -> bytes:
        return self._call(self._mac, ifname)

    def primary_address(self, ifname: str, family: int) -> IPAddress | None:
        """The first address of ``ifname`` (IPv6: its link-local), or None."""
        return self._call(self._primary_address, ifname, family)

    def add(self, ifname: str, vip: VirtualIP) -> None:
        self._call(self._add, ifname, vip)

    def remove(self, ifname: str, vip: VirtualIP) -> None:
        self._call(self._remove, ifname, vip)

    # The methods below run in the netlink thread.

    def _ifindex(self, ifname: str) -> int | None:
        found = self.ipr.link_lookup(ifname=ifname)
        return found[0] if found else None

    def _link_up(self, ifname: str) -> bool:
        """True when the link is administratively up and has carrier."""
        idx = self._ifindex(ifname)
        if idx is None:
            return False
        link = self.ipr.get_links(idx)[0]
        flags = link["flags"]
        return bool(flags & IFF_UP) and bool(flags & IFF_LOWER_UP)

    def _mac(self, ifname: str) -> bytes:
        idx = self._ifindex(ifname)
        text = self.ipr.get_links(idx)[0].get("IFLA_ADDRESS") or "00:00:00:00:00:00"
        return bytes.fromhex(text.replace(":", ""))

    def _primary_address(self, ifname: str, family: int) -> IPAddress | None:
        """The first address of ``ifname`` (IPv6: its link-local), or None."""
        idx = self._ifindex(ifname)
        if idx is None:
            return None
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        for msg in self.ipr.get_addr(index=idx, family=af):
            addr = ipaddress.ip_address(msg.get("IFA_ADDRESS"))
            if family == 4 and not msg["flags"] & 0x01:  # not IFA_F_SECONDARY
                return addr
            if family == 6 and addr.is_link_local:
                return addr
        return None

    def _has_address(self, ifname: str, vip: VirtualIP) -> bool:
        idx = self._ifindex(vip.dev or ifname)
        if idx is None:
            return False
        af = socket.AF_INET if vip.address.version == 4 else socket.AF_INET6
        return any(
            msg.get("IFA_ADDRESS") == str(vip.ip) for msg in self.ipr.get_addr(index=idx, family=af)
        )

    def _add(self, ifname: str, vip: VirtualIP) -> None:
        idx = self._ifindex(vip.dev or ifname)
        kwargs: dict = {
            "index": idx,
            "address": str(vip.ip),
            "prefixlen": vip.address.network.prefixlen,
        }
        if vip.address.version == 4:
            if vip.label:
                kwargs["label"] = vip.label
            if vip.brd:
                kwargs["broadcast"] = vip.brd
        else:
            kwargs["flags"] = IFA_F_NODAD
        if self._has_address(ifname, vip):
            return
        self.ipr.addr("add", **kwargs)

    def _remove(self, ifname: str, vip: VirtualIP) -> None:
        idx = self._ifindex(vip.dev or ifname)
        if idx is None or not self._has_address(ifname, vip):
            return
        self.ipr.addr(
            "del", index=idx, address=str(vip.ip), prefixlen=vip.address.network.prefixlen
        )


def gratuitous_arp(ifname: str, mac: bytes, ip: ipaddress.IPv4Address) -> None:
    """Broadcast an ARP request for ``ip`` from ``ip`` (RFC 5227 §3, gratuitous ARP)."""
    frame = (
        b"\xff" * 6
        + mac
        + struct.pack("!H", ETH_P_ARP)
        + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
        + mac
        + ip.packed
        + b"\xff" * 6
        + ip.packed
    )
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((ifname, ETH_P_ARP))
        s.send(frame)


def unsolicited_na(ifname: str, mac: bytes, ip: ipaddress.IPv6Address) -> None:
    """Unsolicited neighbour advertisement to ff02::1 (RFC 4861 §7.2.6), Override set."""
    icmp = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + ip.packed + bytes([2, 1]) + mac
    ifindex = socket.if_nametoindex(ifname)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.sendto(icmp, ("ff02::1", 0, 0, ifindex))
