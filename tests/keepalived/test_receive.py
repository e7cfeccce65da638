"""Receive checks of RFC 3768 §7.1 / RFC 5798 §7.1, as an instance applies them."""

from __future__ import annotations

from ipaddress import ip_address, ip_interface

import pytest

from pyhaproxy.keepalived.instance import Instance
from pyhaproxy.keepalived.model import GlobalDefs, VirtualIP, VrrpInstance
from pyhaproxy.keepalived.net import Received
from pyhaproxy.keepalived.packet import AUTH_NONE, AUTH_PASS, MCAST_V4, Advert, encode
from pyhaproxy.keepalived.reader import Where

W = Where("t.conf", 1)
ME = ip_address("10.0.0.1")
PEER = ip_address("10.0.0.2")
VIP = ip_address("10.0.0.100")


def make(version=2, auth=True, peers=()):
    conf = VrrpInstance(
        "VI_1",
        W,
        interface="eth0",
        virtual_router_id=51,
        version=version,
        auth_type="PASS" if auth else None,
        auth_pass="secret",
        virtual_ipaddress=[VirtualIP(ip_interface("10.0.0.100/24"), W)],
        unicast_peer=list(peers),
    )
    inst = Instance(conf, GlobalDefs(), None, None, {})  # type: ignore[arg-type]
    inst.src = ME
    return inst


def rcv(adv: Advert, ttl=255, src=PEER, dst=MCAST_V4) -> Received:
    return Received(src, dst, ttl, encode(adv, src, dst))


GOOD_V2 = Advert(2, 51, 100, (VIP,), 100, AUTH_PASS, b"secret")


def test_valid_v2_advert_is_accepted():
    inst = make()
    assert inst._check(rcv(GOOD_V2)) == Advert(2, 51, 100, (VIP,), 100, AUTH_PASS, b"secret\0\0")


@pytest.mark.parametrize(
    "packet, counter",
    [
        (rcv(GOOD_V2, ttl=254), "ip_ttl_err"),
        (rcv(Advert(2, 51, 100, (VIP,), 100, AUTH_PASS, b"wrong")), "auth_failure"),
        (rcv(Advert(2, 51, 100, (VIP,), 100, AUTH_NONE)), "authtype_mismatch"),
        (rcv(Advert(2, 51, 100, (VIP,), 200, AUTH_PASS, b"secret")), "advert_interval_err"),
        (rcv(Advert(3, 51, 100, (VIP,), 100)), "invalid_type_rcvd"),
    ],
)
def test_invalid_adverts_are_discarded_and_counted(packet, counter):
    inst = make()
    assert inst._check(packet) is None
    assert getattr(inst.stats, counter) == 1


def test_bad_checksum_is_discarded():
    inst = make()
    packet = rcv(GOOD_V2)
    packet.payload = packet.payload[:8] + b"\x0b" + packet.payload[9:]
    assert inst._check(packet) is None and inst.stats.packet_len_err == 1


def test_other_vrid_and_own_packets_are_silently_ignored():
    inst = make()
    assert inst._check(rcv(Advert(2, 52, 100, (VIP,), 100, AUTH_PASS, b"secret"))) is None
    assert inst._check(rcv(GOOD_V2, src=ME)) is None
    assert inst.stats == type(inst.stats)()


def test_unicast_accepts_only_configured_peers():
    inst = make(peers=[PEER])
    assert inst._check(rcv(GOOD_V2, dst=ME)) is not None
    assert inst._check(rcv(GOOD_V2, src=ip_address("10.0.0.3"), dst=ME)) is None


def test_address_list_mismatch_is_counted_but_accepted():
    inst = make()
    other = Advert(2, 51, 100, (ip_address("10.0.0.99"),), 100, AUTH_PASS, b"secret")
    assert inst._check(rcv(other)) is not None
    assert inst.stats.addr_list_err == 1


def test_v3_advert_checked_with_pseudo_header():
    inst = make(version=3, auth=False)
    good = Advert(3, 51, 100, (VIP,), 100)
    assert inst._check(rcv(good)) == good
    # Sent from PEER but claimed to come from elsewhere: the checksum fails.
    forged = Received(ip_address("10.0.0.3"), MCAST_V4, 255, encode(good, PEER, MCAST_V4))
    assert inst._check(forged) is None
