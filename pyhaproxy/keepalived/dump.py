"""The files keepalived writes on SIGUSR1 (``keepalived.data``) and SIGUSR2
(``keepalived.stats``), in its layout.  The data dump is the subset of
keepalived's lines that pykeepalived has values for.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from pyhaproxy.keepalived import fsm
from pyhaproxy.keepalived.instance import Instance
from pyhaproxy.keepalived.model import Config

DATA_FILE = "/tmp/keepalived.data"
STATS_FILE = "/tmp/keepalived.stats"


def _stamp(t: float) -> str:
    frac = f"{t % 1:.6f}"[2:]
    return f"{t:.6f} ({time.strftime('%a %b %d %H:%M:%S', time.localtime(t))}.{frac} {time.localtime(t).tm_year})"


def stats(instances: Iterable[Instance]) -> str:
    out = []
    for i in instances:
        s = i.stats
        out += [
            f"VRRP Instance: {i.name}",
            "  Advertisements:",
            f"    Received: {s.advert_rcvd}",
            f"    Sent: {s.advert_sent}",
            f"  Became master: {s.become_master}",
            f"  Released master: {s.release_master}",
            "  Packet Errors:",
            f"    Length: {s.packet_len_err}",
            f"    TTL: {s.ip_ttl_err}",
            f"    Invalid Type: {s.invalid_type_rcvd}",
            f"    Advertisement Interval: {s.advert_interval_err}",
            f"    Address List: {s.addr_list_err}",
            "  Authentication Errors:",
            f"    Invalid Type: {s.invalid_authtype}",
            f"    Type Mismatch: {s.authtype_mismatch}",
            f"    Failure: {s.auth_failure}",
            "  Priority Zero:",
            f"    Received: {s.pri_zero_rcvd}",
            f"    Sent: {s.pri_zero_sent}",
        ]
    return "\n".join(out) + "\n"


def data(cfg: Config, instances: Iterable[Instance], router_id: str) -> str:
    g = cfg.global_defs
    out = [
        "------< Global definitions >------",
        f" Router ID = {router_id}",
        f" Gratuitous ARP delay = {g.vrrp_garp_master_delay:g}",
        f" Gratuitous ARP repeat = {g.vrrp_garp_master_repeat}",
        f" Gratuitous ARP refresh timer = {g.vrrp_garp_master_refresh:g}",
        f" Gratuitous ARP refresh repeat = {g.vrrp_garp_master_refresh_repeat}",
        f" VRRP default protocol version = {g.vrrp_version}",
        f" VRRP skip check advert addresses = {str(g.vrrp_skip_check_adv_addr).lower()}",
        f" Script security {'enabled' if g.enable_script_security else 'disabled'}",
        "------< VRRP Topology >------",
    ]
    for i in instances:
        c, r = i.conf, i.router
        out += [
            f" VRRP Instance = {i.name}",
            f"   VRRP Version = {i.version}",
            f"   State = {r.state.value}",
            f"   Wantstate = {c.state}",
            f"   Number of interface and track script faults = {len(i.faults)}",
            f"   Last transition = {_stamp(i.last_transition)}",
            f"   Master down timer = {round(fsm.master_down_interval(r) * 1e6)} usecs",
            f"   Interface = {c.interface}",
            f"   Using src_ip = {i.src}",
        ]
        if c.unicast_peer:
            out.append("   Unicast Peer(s):")
            out += [f"     {p}" for p in c.unicast_peer]
        else:
            out.append(f"   Multicast address {'224.0.0.18' if i.family == 4 else 'ff02::12'}")
        out += [
            f"   Virtual Router ID = {c.virtual_router_id}",
            f"   Priority = {c.priority}",
            f"   Effective priority = {r.priority}",
            f"   Advert interval = {c.advert_int:g} sec",
            f"   Preempt = {'enabled' if c.preempt else 'disabled'}",
        ]
        if c.preempt_delay:
            out.append(f"   Preempt delay = {c.preempt_delay:g} secs")
        if c.auth_type:
            out += ["   Authentication type = SIMPLE_PASSWORD", f"   Password = {c.auth_pass}"]
        out.append(f"   Virtual IP ({len(c.virtual_ipaddress)}):")
        for v in c.virtual_ipaddress:
            up = " set" if r.state is fsm.State.MASTER else ""
            out.append(f"     {v.address} dev {v.dev or c.interface} scope global{up}")
        if c.track_script:
            out.append("   Tracked scripts :")
            for t in c.track_script:
                tr = i.trackers.get(t.name)
                out.append(
                    f"     {t.name} weight {t.weight if t.weight is not None else (tr.conf.weight if tr else 0)}"
                )
    return "\n".join(out) + "\n"
