"""One running ``vrrp_instance``: feeds events to ``fsm`` and performs its actions.

The decisions are ``fsm``'s; this module owns the timers, the socket, the
addresses, the tracking of scripts and interfaces (effective priority and
FAULT) and the sync group links.  Only ``Instance.feed`` changes the router.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address

from pyhaproxy.keepalived import fsm, net
from pyhaproxy.keepalived.model import GlobalDefs, IPAddress, SyncGroup, VrrpInstance
from pyhaproxy.keepalived.packet import (
    AUTH_NONE,
    AUTH_PASS,
    MCAST_V4,
    MCAST_V6,
    Advert,
    PacketError,
    decode,
    encode,
)
from pyhaproxy.keepalived.scripts import Notifier, ScriptTracker

log = logging.getLogger("pykeepalived")


@dataclass(slots=True)
class Stats:
    """The counters keepalived dumps on SIGUSR2 (keepalived.stats)."""

    advert_rcvd: int = 0
    advert_sent: int = 0
    become_master: int = 0
    release_master: int = 0
    packet_len_err: int = 0
    ip_ttl_err: int = 0
    invalid_type_rcvd: int = 0
    advert_interval_err: int = 0
    addr_list_err: int = 0
    invalid_authtype: int = 0
    authtype_mismatch: int = 0
    auth_failure: int = 0
    pri_zero_rcvd: int = 0
    pri_zero_sent: int = 0


@dataclass(slots=True)
class Group:
    """A running ``vrrp_sync_group``: its members move together."""

    conf: SyncGroup
    members: list[Instance] = field(default_factory=list)
    state: str = "BACKUP"
    busy: bool = False


class Instance:
    def __init__(
        self,
        conf: VrrpInstance,
        gdefs: GlobalDefs,
        netlink: net.Netlink,
        notifier: Notifier,
        trackers: dict[str, ScriptTracker],
    ) -> None:
        self.conf = conf
        self.gdefs = gdefs
        self.netlink = netlink
        self.notifier = notifier
        self.name = conf.name
        self.family = conf.family
        self.version = conf.version or gdefs.vrrp_version
        self.stats = Stats()
        self.group: Group | None = None
        self.sock: net.VrrpSocket | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._garp: list[asyncio.TimerHandle] = []
        self._link_task: asyncio.Task | None = None
        self.faults: set[str] = set()
        self._links: dict[str, bool] = {}  # tracked interface -> up
        self.trackers = {t.name: trackers[t.name] for t in conf.track_script if t.name in trackers}
        self.last_transition = time.time()
        self.router = fsm.Router(
            priority=conf.priority,
            advert_int=round(conf.advert_int * 100),
            version=self.version,
            preempt=conf.preempt,
            preempt_delay=conf.preempt_delay,
        )
        self.src: IPAddress | None = None

    # ----------------------------------------------------------- life cycle

    @property
    def state(self) -> str:
        return self.router.state.value

    def start(self, initial: fsm.State | None = None) -> None:
        """Open the socket and enter the first state (``initial``: taken over on reload)."""
        conf = self.conf
        self.src = conf.unicast_src_ip or self.netlink.primary_address(conf.interface, self.family)
        if self.src is None:
            self.src = IPv4Address("0.0.0.0") if self.family == 4 else IPv6Address("::")
            self.faults.add(f"no IPv{self.family} address on {conf.interface}")
        self.router = replace(self.router, own_ip=self.src)
        loop = asyncio.get_running_loop()
        try:
            self.sock = net.VrrpSocket(conf.interface, self.family, self.src, not conf.unicast_peer)
            loop.add_reader(self.sock.fileno(), self._readable)
        except OSError as exc:
            log.error("(%s) cannot open VRRP socket on %s: %s", self.name, conf.interface, exc)
            self.faults.add(f"socket: {exc}")
        for tracker in self.trackers.values():
            tracker.listeners.append(self._script_changed)
        self._update_priority()
        self._check_links()
        self._link_task = loop.create_task(self._watch_links())
        if initial is fsm.State.MASTER and not self.faults:
            # Reload: keep mastership without a transition (no notify, no garp).
            self.router = replace(self.router, state=fsm.State.MASTER)
            self._run([fsm.AddAddresses(), fsm.StartAdverTimer(self.router.advert_int / 100)])
            return
        if self.faults:
            self.feed(fsm.FaultOn())
        else:
            self.feed(fsm.Startup(time.monotonic()))

    def stop(self, release: bool = True) -> None:
        """Shutdown: a MASTER sends priority 0 and removes its addresses."""
        for tracker in self.trackers.values():
            if self._script_changed in tracker.listeners:
                tracker.listeners.remove(self._script_changed)
        if self._link_task:
            self._link_task.cancel()
        if release:
            self.feed(fsm.Shutdown())
        self._cancel()
        if self.sock:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    # --------------------------------------------------------------- events

    def feed(self, event) -> None:
        old = self.router.state
        self.router, actions = fsm.step(self.router, event)
        self._run(actions)
        if old is not self.router.state and self.group is not None:
            self._sync(old, self.router.state)

    def _run(self, actions) -> None:
        for action in actions:
            match action:
                case fsm.SendAdvert(priority=prio):
                    self._send(prio)
                case fsm.StartAdverTimer(delay=d):
                    self._arm(d, fsm.AdverTimer)
                case fsm.StartMasterDownTimer(delay=d):
                    self._arm(d, fsm.MasterDownTimer)
                case fsm.StopTimers():
                    self._cancel()
                case fsm.AddAddresses():
                    self._addresses(add=True)
                case fsm.RemoveAddresses():
                    self._addresses(add=False)
                case fsm.Announce():
                    self._announce()
                case fsm.Enter(state=state, reason=reason):
                    self._entered(state, " (init)" if reason == "Startup" else "")

    def _arm(self, delay: float, kind) -> None:
        if self._timer:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        if kind is fsm.MasterDownTimer:
            self._timer = loop.call_later(delay, lambda: self.feed(kind(time.monotonic())))
        else:
            self._timer = loop.call_later(delay, lambda: self.feed(kind()))

    def _cancel(self) -> None:
        if self._timer:
            self._timer.cancel()
            self._timer = None
        for h in self._garp:
            h.cancel()
        self._garp.clear()

    def _entered(self, state: fsm.State, why: str = "") -> None:
        self.last_transition = time.time()
        log.info("(%s) Entering %s STATE%s", self.name, state.value, why)
        if state is fsm.State.MASTER:
            self.stats.become_master += 1
        if state is not fsm.State.MASTER and self.stats.become_master > self.stats.release_master:
            self.stats.release_master += 1
        self.notifier.state(
            "INSTANCE", self.name, self.conf.notify, state.value, self.router.priority
        )
        if self._smtp_alert() and state in (fsm.State.MASTER, fsm.State.BACKUP, fsm.State.FAULT):
            owning = "now owning" if state is fsm.State.MASTER else "no longer owning"
            self.notifier.mail(
                f"VRRP Instance {self.name} - Entering {state.value} state",
                f"=> VRRP Instance is {owning} VRRP VIPs <=\n",
            )

    def _smtp_alert(self) -> bool:
        if self.conf.smtp_alert is not None:
            return self.conf.smtp_alert
        return bool(self.group and self.group.conf.smtp_alert)

    # ------------------------------------------------------------ sync group

    def _sync(self, old: fsm.State, new: fsm.State) -> None:
        group = self.group
        assert group is not None
        if group.busy:
            return
        group.busy = True
        try:
            others = [m for m in group.members if m is not self]
            if new is fsm.State.FAULT:
                for m in others:
                    m.add_fault(f"sync group member {self.name}")
            elif old is fsm.State.FAULT:
                for m in others:
                    m.clear_fault(f"sync group member {self.name}")
            if new is fsm.State.MASTER:
                for m in others:
                    m.feed(fsm.GroupMaster())
            elif old is fsm.State.MASTER and new is fsm.State.BACKUP:
                for m in others:
                    m.feed(fsm.GroupBackup())
            states = {m.router.state for m in group.members}
            if len(states) == 1:
                value = states.pop().value
                if value != group.state and value in ("MASTER", "BACKUP", "FAULT"):
                    group.state = value
                    log.info("VRRP_Group(%s) Syncing instances to %s state", group.conf.name, value)
                    self.notifier.state("GROUP", group.conf.name, group.conf.notify, value, 0)
        finally:
            group.busy = False

    # ------------------------------------------------------------ tracking

    def add_fault(self, reason: str) -> None:
        had = bool(self.faults)
        self.faults.add(reason)
        if not had:
            self.feed(fsm.FaultOn())

    def clear_fault(self, reason: str) -> None:
        if reason not in self.faults:
            return
        self.faults.discard(reason)
        if not self.faults:
            self.feed(fsm.FaultOff())

    def _script_changed(self, tracker: ScriptTracker) -> None:
        self._update_priority()

    def _weights(self) -> tuple[int, set[str]]:
        """Sum of tracking weights, and the weight-0 failures (FAULT reasons)."""
        total, failed = 0, set()
        for ts in self.conf.track_script:
            tracker = self.trackers.get(ts.name)
            if tracker is None:
                continue
            weight = ts.weight if ts.weight is not None else tracker.conf.weight
            reverse = ts.reverse or (ts.weight is None and tracker.conf.weight_reverse)
            ok = tracker.ok
            if weight == 0:
                if not ok:
                    failed.add(f"script {ts.name}")
            elif (ok != reverse) == (weight > 0):
                # keepalived.conf(5): a positive weight is added while the script
                # succeeds, a negative one while it fails ("reverse" inverts).
                total += weight
        for ti in self.conf.track_interface:
            up = self._links.get(ti.name, True)
            if ti.weight and (up != ti.reverse) == (ti.weight > 0):
                total += ti.weight
        return total, failed

    def _update_priority(self) -> None:
        total, failed = self._weights()
        base = self.conf.priority
        prio = base if base == 255 else min(254, max(1, base + total))
        if prio != self.router.priority:
            log.info(
                "(%s) Changing effective priority from %d to %d",
                self.name,
                self.router.priority,
                prio,
            )
            self.router = fsm.with_priority(self.router, prio)
        for reason in [f for f in self.faults if f.startswith("script ")]:
            if reason not in failed:
                self.clear_fault(reason)
        for reason in failed - self.faults:
            self.add_fault(reason)

    def _check_links(self) -> None:
        weighted = [t.name for t in self.conf.track_interface if t.weight]
        changed = False
        for name in weighted:
            up = self.netlink.link_up(name)
            changed |= self._links.get(name) != up
            self._links[name] = up
        if changed:
            self._update_priority()
        names = [] if self.conf.dont_track_primary else [self.conf.interface]
        names += [t.name for t in self.conf.track_interface if t.weight == 0]
        for name in names:
            reason = f"interface {name} down"
            up = self.netlink.link_up(name)
            if up and reason in self.faults:
                log.info("Netlink reports %s up", name)
                self.clear_fault(reason)
            elif not up and reason not in self.faults:
                log.info("Netlink reports %s down", name)
                self.add_fault(reason)

    async def _watch_links(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                self._check_links()
            except Exception as exc:  # keep watching: netlink may fail transiently
                log.warning("(%s) link check failed: %s", self.name, exc)

    # -------------------------------------------------------------- sending

    def _destinations(self) -> list[IPAddress]:
        if self.conf.unicast_peer:
            return list(self.conf.unicast_peer)
        return [MCAST_V4 if self.family == 4 else MCAST_V6]

    def _advert(self, priority: int) -> Advert:
        auth = (
            (AUTH_PASS, self.conf.auth_pass.encode()) if self.conf.auth_type else (AUTH_NONE, b"")
        )
        return Advert(
            self.version,
            self.conf.virtual_router_id or 0,
            priority,
            tuple(v.ip for v in self.conf.virtual_ipaddress),
            self.router.advert_int,
            auth[0] if self.version == 2 else AUTH_NONE,
            auth[1] if self.version == 2 else b"",
        )

    def _send(self, priority: int) -> None:
        if self.sock is None or self.src is None:
            return
        adv = self._advert(priority)
        for dst in self._destinations():
            try:
                self.sock.send(encode(adv, self.src, dst), dst)
                self.stats.advert_sent += 1
                if priority == 0:
                    self.stats.pri_zero_sent += 1
            except OSError as exc:
                log.warning("(%s) cannot send advert to %s: %s", self.name, dst, exc)

    # ------------------------------------------------------------ receiving

    def _readable(self) -> None:
        assert self.sock is not None
        while True:
            try:
                rcv = self.sock.recv()
            except BlockingIOError:
                return
            except (OSError, PacketError) as exc:
                log.debug("(%s) receive error: %s", self.name, exc)
                return
            adv = self._check(rcv)
            if adv is not None:
                self.stats.advert_rcvd += 1
                if adv.priority == 0:
                    self.stats.pri_zero_rcvd += 1
                self.feed(fsm.AdvertReceived(adv.priority, rcv.src, adv.interval, time.monotonic()))

    def _check(self, rcv: net.Received) -> Advert | None:
        """RFC 5798 §7.1 / RFC 3768 §7.1 receive checks; None to discard."""
        conf = self.conf
        if rcv.src == self.src:
            return None
        if len(rcv.payload) >= 2 and rcv.payload[1] != conf.virtual_router_id:
            return None
        if conf.unicast_peer and rcv.src not in conf.unicast_peer:
            log.info("(%s) advert from %s who is not a unicast peer - ignoring", self.name, rcv.src)
            return None
        if rcv.ttl != 255:
            self.stats.ip_ttl_err += 1
            log.info("(%s) invalid TTL/HL. Received %d and expect 255", self.name, rcv.ttl)
            return None
        try:
            adv = decode(rcv.payload, rcv.src, rcv.dst, self.family)
        except PacketError as exc:
            self.stats.packet_len_err += 1
            log.info("(%s) %s", self.name, exc)
            return None
        if adv.version != self.version:
            self.stats.invalid_type_rcvd += 1
            log.info(
                "(%s) wrong version. Received %d and expect %d",
                self.name,
                adv.version,
                self.version,
            )
            return None
        if self.version == 2:
            want = AUTH_PASS if conf.auth_type else AUTH_NONE
            if adv.auth_type != want:
                self.stats.authtype_mismatch += 1
                log.info("(%s) received a packet with a different authentication type", self.name)
                return None
            if want == AUTH_PASS and adv.auth_data != conf.auth_pass.encode().ljust(8, b"\0"):
                self.stats.auth_failure += 1
                log.info("(%s) received an invalid passwd!", self.name)
                return None
            if adv.interval != self.router.advert_int:
                self.stats.advert_interval_err += 1
                log.info(
                    "(%s) advertisement interval mismatch mine=%d sec rcv'd=%d sec",
                    self.name,
                    self.router.advert_int // 100,
                    adv.interval // 100,
                )
                return None
        mine = {v.ip for v in conf.virtual_ipaddress}
        if not self.gdefs.vrrp_skip_check_adv_addr and adv.priority and set(adv.addresses) != mine:
            self.stats.addr_list_err += 1
            log.info(
                "(%s) ip address associated with VRID %d not present in MASTER advert",
                self.name,
                adv.vrid,
            )
        return adv

    # ------------------------------------------------------------ addresses

    def _all_vips(self):
        return [*self.conf.virtual_ipaddress, *self.conf.virtual_ipaddress_excluded]

    def _addresses(self, add: bool) -> None:
        for vip in self._all_vips():
            try:
                if add:
                    self.netlink.add(self.conf.interface, vip)
                else:
                    self.netlink.remove(self.conf.interface, vip)
            except Exception as exc:  # netlink errors are reported, not fatal
                log.error(
                    "(%s) cannot %s %s: %s", self.name, "add" if add else "remove", vip.address, exc
                )

    def _announce(self) -> None:
        """Gratuitous ARP / NA now, again after garp_master_delay, and refreshed."""
        g, conf = self.gdefs, self.conf
        loop = asyncio.get_running_loop()
        self._announce_once()
        delay = (
            conf.garp_master_delay
            if conf.garp_master_delay is not None
            else g.vrrp_garp_master_delay
        )
        if delay > 0:
            self._garp.append(loop.call_later(delay, self._announce_once))
        refresh = (
            conf.garp_master_refresh
            if conf.garp_master_refresh is not None
            else g.vrrp_garp_master_refresh
        )
        if refresh > 0:
            self._garp.append(loop.call_later(refresh, self._refresh, refresh))

    def _refresh(self, period: float) -> None:
        if self.router.state is fsm.State.MASTER:
            self._announce_once(self.gdefs.vrrp_garp_master_refresh_repeat)
            self._garp.append(asyncio.get_running_loop().call_later(period, self._refresh, period))

    def _announce_once(self, repeat: int | None = None) -> None:
        """``repeat`` rounds of one ARP/NA per VIP, ``vrrp_garp_interval`` /
        ``vrrp_gna_interval`` apart (keepalived.conf(5))."""
        if repeat is None:
            repeat = self.conf.garp_master_repeat
        if repeat is None:
            repeat = self.gdefs.vrrp_garp_master_repeat
        try:
            mac = self.netlink.mac(self.conf.interface)
        except OSError as exc:
            log.warning("(%s) cannot read the MAC address: %s", self.name, exc)
            return
        loop = asyncio.get_running_loop()
        for vip in self._all_vips():
            gap = (
                self.gdefs.vrrp_garp_interval
                if vip.address.version == 4
                else self.gdefs.vrrp_gna_interval
            )
            for n in range(max(1, repeat)):
                if gap > 0 and n:
                    self._garp.append(loop.call_later(n * gap, self._announce_vip, vip, mac))
                else:
                    self._announce_vip(vip, mac)

    def _announce_vip(self, vip, mac: bytes) -> None:
        dev = vip.dev or self.conf.interface
        try:
            if vip.address.version == 4:
                net.gratuitous_arp(dev, mac, vip.ip)
            else:
                net.unsolicited_na(dev, mac, vip.ip)
        except OSError as exc:
            log.warning("(%s) cannot send gratuitous ARP/NA for %s: %s", self.name, vip.ip, exc)
