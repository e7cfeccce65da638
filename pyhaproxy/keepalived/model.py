"""keepalived.conf model: plain dataclasses, no behaviour.

Built by ``parser``; read by the daemon.  Times are in seconds (floats);
addresses are ``ipaddress`` objects.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pyhaproxy.keepalived.reader import Where

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


@dataclass(slots=True)
class GlobalDefs:
    router_id: str | None = None
    vrrp_version: int = 2
    script_user: str | None = None
    script_group: str | None = None
    enable_script_security: bool = False
    notification_email: list[str] = field(default_factory=list)
    notification_email_from: str | None = None
    smtp_server: str | None = None
    smtp_port: int = 25
    smtp_helo_name: str | None = None
    smtp_connect_timeout: float = 30.0
    vrrp_garp_master_delay: float = 5.0
    vrrp_garp_master_repeat: int = 5
    vrrp_garp_master_refresh: float = 0.0
    vrrp_garp_master_refresh_repeat: int = 1
    vrrp_garp_interval: float = 0.0
    vrrp_gna_interval: float = 0.0
    vrrp_skip_check_adv_addr: bool = False
    where: Where | None = field(default=None, compare=False)


@dataclass(slots=True)
class VrrpScript:
    """``vrrp_script NAME { script ...; interval ...; ... }``."""

    name: str
    where: Where = field(compare=False)
    script: str | None = None
    interval: float = 1.0
    timeout: float | None = None
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: str | None = None
    group: str | None = None
    init_fail: bool = False


@dataclass(slots=True)
class VirtualIP:
    """One ``virtual_ipaddress`` line: ``ADDR[/PREFIX] [dev IF] [label L] ...``."""

    address: IPInterface
    where: Where = field(compare=False)
    dev: str | None = None
    label: str | None = None
    brd: str | None = None
    scope: str | None = None
    nodad: bool = False
    no_track: bool = False

    @property
    def ip(self) -> IPAddress:
        return self.address.ip


@dataclass(slots=True)
class TrackScript:
    name: str
    where: Where = field(compare=False)
    weight: int | None = None  # overrides the script's weight when set
    reverse: bool = False


@dataclass(slots=True)
class TrackInterface:
    name: str
    where: Where = field(compare=False)
    weight: int = 0
    reverse: bool = False


@dataclass(slots=True)
class Notify:
    """``notify_*`` scripts of an instance or a sync group."""

    master: str | None = None
    backup: str | None = None
    fault: str | None = None
    stop: str | None = None
    any: str | None = None  # ``notify``


@dataclass(slots=True)
class VrrpInstance:
    """``vrrp_instance NAME { ... }`` (keepalived.conf(5) "VRRP instance(s)")."""

    name: str
    where: Where = field(compare=False)
    state: str = "BACKUP"  # the initial state wanted: MASTER or BACKUP
    interface: str | None = None
    virtual_router_id: int | None = None
    priority: int = 100
    advert_int: float = 1.0
    version: int | None = None  # None: global_defs vrrp_version
    preempt: bool = True
    preempt_delay: float = 0.0
    auth_type: str | None = None  # "PASS" or None
    auth_pass: str = ""
    virtual_ipaddress: list[VirtualIP] = field(default_factory=list)
    virtual_ipaddress_excluded: list[VirtualIP] = field(default_factory=list)
    unicast_src_ip: IPAddress | None = None
    unicast_peer: list[IPAddress] = field(default_factory=list)
    track_script: list[TrackScript] = field(default_factory=list)
    track_interface: list[TrackInterface] = field(default_factory=list)
    notify: Notify = field(default_factory=Notify)
    garp_master_delay: float | None = None
    garp_master_repeat: int | None = None
    garp_master_refresh: float | None = None
    accept: bool | None = None
    smtp_alert: bool | None = None
    dont_track_primary: bool = False
    sync_group: str | None = None

    @property
    def family(self) -> int:
        """4 or 6: the address family of the instance (from its first VIP)."""
        vips = self.virtual_ipaddress or self.virtual_ipaddress_excluded
        return vips[0].address.version if vips else 4


@dataclass(slots=True)
class SyncGroup:
    """``vrrp_sync_group NAME { group { I1 I2 } ... }``."""

    name: str
    where: Where = field(compare=False)
    group: list[str] = field(default_factory=list)
    notify: Notify = field(default_factory=Notify)
    track_script: list[TrackScript] = field(default_factory=list)
    smtp_alert: bool | None = None


@dataclass(slots=True)
class Config:
    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    scripts: dict[str, VrrpScript] = field(default_factory=dict)
    instances: dict[str, VrrpInstance] = field(default_factory=dict)
    sync_groups: dict[str, SyncGroup] = field(default_factory=dict)
