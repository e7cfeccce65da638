"""Checks of a parsed keepalived.conf that need the whole configuration.

Resolves the VRRP version of each instance, drops instances that cannot run
(no interface, no virtual router id), links sync groups and tracked scripts,
and flags scripts configured without ``enable_script_security``.  Messages
mirror keepalived's.
"""

from __future__ import annotations

from pyhaproxy.keepalived import model as m
from pyhaproxy.keepalived.reader import Diagnostics


def check(cfg: m.Config, d: Diagnostics) -> None:
    """Resolve defaults and cross-references of a parsed configuration, in place."""
    g = cfg.global_defs
    for inst in list(cfg.instances.values()):
        version = inst.version or g.vrrp_version
        inst.version = version
        if inst.interface is None:
            d.error(inst.where, f"({inst.name}) Unknown interface!")
            del cfg.instances[inst.name]
            continue
        if inst.virtual_router_id is None:
            d.error(inst.where, f"({inst.name}) the virtual router id must be set")
            del cfg.instances[inst.name]
            continue
        rounded = max(1.0, float(round(inst.advert_int)))
        if version == 2 and inst.advert_int != rounded:
            d.warning(
                inst.where,
                f"({inst.name}) VRRPv2 advert_int is whole seconds; rounding "
                f"{inst.advert_int:g} to {rounded:g}",
            )
            inst.advert_int = rounded
        if inst.auth_type and version == 3:
            d.warning(inst.where, f"({inst.name}) cannot use authentication with VRRPv3")
            inst.auth_type = None
        families = {v.address.version for v in inst.virtual_ipaddress}
        if len(families) > 1:
            d.error(inst.where, f"({inst.name}) mixing IPv4 and IPv6 virtual addresses")
        if inst.family == 6 and version == 2:
            d.error(inst.where, f"({inst.name}) cannot use IPv6 with VRRP version 2; using 3")
            inst.version = 3
        if inst.priority == 255 and inst.state != "MASTER":
            d.warning(inst.where, f"({inst.name}) priority 255 (address owner): state MASTER")
            inst.state = "MASTER"
        for ts in list(inst.track_script):
            if ts.name not in cfg.scripts:
                d.error(ts.where, f"({inst.name}) track script {ts.name} not found, ignoring...")
                inst.track_script.remove(ts)
    seen: dict[str, str] = {}
    for grp in cfg.sync_groups.values():
        for name in list(grp.group):
            if name not in cfg.instances:
                d.error(
                    grp.where,
                    f"Virtual router {name} specified in sync group {grp.name} doesn't exist - ignoring",
                )
                grp.group.remove(name)
            elif name in seen:
                d.error(
                    grp.where,
                    f"VRRP instance {name} cannot be in sync groups {seen[name]} and {grp.name}",
                )
                grp.group.remove(name)
            else:
                seen[name] = grp.name
                cfg.instances[name].sync_group = grp.name
        for ts in list(grp.track_script):
            if ts.name not in cfg.scripts:
                d.error(ts.where, f"({grp.name}) track script {ts.name} not found, ignoring...")
                grp.track_script.remove(ts)
                continue
            # A sync group's tracked script puts the whole group in FAULT when it
            # fails: every member tracks it with weight 0.
            for name in grp.group:
                cfg.instances[name].track_script.append(m.TrackScript(ts.name, ts.where, 0))
    for s in cfg.scripts.values():
        if not s.script:
            d.error(s.where, f"vrrp_script {s.name} has no script")
    used = any(s.script for s in cfg.scripts.values()) or any(
        any(vars_notify(i.notify)) for i in [*cfg.instances.values(), *cfg.sync_groups.values()]
    )
    if used and not g.enable_script_security:
        d.security_violation = True
        d.warning(
            None, "SECURITY VIOLATION - scripts are being executed but script_security not enabled."
        )


def vars_notify(n: m.Notify) -> tuple[str | None, ...]:
    return (n.master, n.backup, n.fault, n.stop, n.any)
