"""keepalived.conf keywords → ``model.Config``.

Each section has a keyword table (``_GLOBAL``, ``_SCRIPT``, ``_INSTANCE``,
``_GROUP``) filled by the ``@kw`` decorator next to the parse function of the
keyword; adding a keyword never edits the loader (``_apply``).  Keywords that
keepalived knows but pykeepalived does not implement yet are listed in
``UNSUPPORTED`` and reported as fatal ("not supported yet"), never ignored.
Unknown keywords get keepalived's "Unknown keyword" message, with a
suggestion.  Messages carry keepalived's ``(FILE: Line N)`` prefix.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable
from typing import Any

from pyhaproxy.keepalived import model as m
from pyhaproxy.keepalived.checks import check
from pyhaproxy.keepalived.reader import Diagnostics, Stmt, read_config

Handler = Callable[[Stmt, Any, Diagnostics], None]
_GLOBAL: dict[str, Handler] = {}
_SCRIPT: dict[str, Handler] = {}
_INSTANCE: dict[str, Handler] = {}
_GROUP: dict[str, Handler] = {}

UNSUPPORTED: dict[str, frozenset[str]] = {
    "top": frozenset(
        [
            "virtual_server",
            "virtual_server_group",
            "static_ipaddress",
            "static_routes",
            "static_rules",
            "vrrp_track_file",
            "track_file",
            "vrrp_track_process",
            "track_process",
            "bfd_instance",
            "garp_group",
            "net_namespace",
            "instance",
            "linkbeat_use_polling",
            "use_pid_dir",
        ]
    ),
    "global_defs": frozenset(
        [
            "vrrp_strict",
            "vrrp_mcast_group4",
            "vrrp_mcast_group6",
            "lvs_id",
            "lvs_flush",
            "lvs_sync_daemon",
            "enable_traps",
            "enable_snmp_vrrp",
            "enable_snmp_checker",
            "enable_snmp_rfc",
            "enable_dbus",
            "vrrp_iptables",
            "vrrp_ipsets",
            "vrrp_nftables",
            "dynamic_interfaces",
            "checker_process_name",
            "vrrp_process_name",
            "vrrp_no_swap",
            "vrrp_rt_priority",
            "vrrp_cpu_affinity",
        ]
    ),
    "vrrp_instance": frozenset(
        [
            "use_vmac",
            "vmac_xmit_base",
            "track_file",
            "track_process",
            "track_bfd",
            "virtual_routes",
            "virtual_rules",
            "lvs_sync_daemon_interface",
            "native_ipv6",
            "old_unicast_checksum",
            "check_unicast_src",
            "unicast_fault_no_peer",
            "unicast_ttl",
            "higher_prio_send_advert",
            "lower_prio_no_advert",
            "notify_master_rx_lower_pri",
            "garp_lower_prio_delay",
            "garp_lower_prio_repeat",
            "kernel_rx_buf_size",
            "track_src_ip",
            "strict_mode",
            "promote_secondaries",
            "linkbeat_use_polling",
            "debug",
        ]
    ),
    "vrrp_sync_group": frozenset(["track_interface", "track_file", "track_process", "track_bfd"]),
    "vrrp_script": frozenset(),
}


def kw(table: dict[str, Handler], *names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            table[name] = fn
        return fn

    return register


# --------------------------------------------------------------------- values


class Bad(Exception):
    """A keyword's value is invalid; the message names what is wrong."""


def _one(st: Stmt) -> str:
    if len(st.args) < 1:
        raise Bad(
            f"*** Configuration line starting `{st.keyword}` is missing a parameter "
            f"after keyword `{st.keyword}` at word position 2"
        )
    return st.args[0]


def _int(text: str, lo: int, hi: int) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise Bad(f"invalid number '{text}'") from None
    if not lo <= value <= hi:
        raise Bad(f"number '{text}' outside range [{lo}, {hi}]")
    return value


def _secs(text: str, lo: float = 0.0, hi: float = 1e9) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Bad(f"invalid number '{text}'") from None
    if not lo <= value <= hi:
        raise Bad(f"number '{text}' outside range [{lo:g}, {hi:g}]")
    return value


def _ip(text: str) -> m.IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise Bad(f"invalid IP address '{text}'") from None


def _block_words(st: Stmt) -> list[tuple[Stmt, str]]:
    """Items of a list block (``group { A B }``, ``unicast_peer { ... }``)."""
    if st.block is None:
        raise Bad(f"'{st.keyword}' expects a block {{ ... }}")
    return [(item, w) for item in st.block for w in item.words]


def _set(attr: str, conv: Callable[[str], Any]) -> Handler:
    def handler(st: Stmt, obj: Any, d: Diagnostics) -> None:
        setattr(obj, attr, conv(_one(st)))

    return handler


def _flag(attr: str, value: bool = True) -> Handler:
    def handler(st: Stmt, obj: Any, d: Diagnostics) -> None:
        setattr(obj, attr, value)

    return handler


def _str(text: str) -> str:
    return text


def _script_line(st: Stmt) -> str:
    """``KEYWORD <STRING>|<QUOTED-STRING> [username [groupname]]``: the command.

    The user is kept apart by the keyword handlers that support it.
    """
    return _one(st)


# ---------------------------------------------------------------- global_defs

for _name, _attr, _conv in (
    ("router_id", "router_id", _str),
    ("script_user", "script_user", _str),
    ("notification_email_from", "notification_email_from", _str),
    ("smtp_helo_name", "smtp_helo_name", _str),
    ("smtp_connect_timeout", "smtp_connect_timeout", lambda t: _secs(t, 0.0, 3600)),
    ("vrrp_version", "vrrp_version", lambda t: _int(t, 2, 3)),
    ("vrrp_garp_master_delay", "vrrp_garp_master_delay", lambda t: _secs(t, 0, 3600)),
    ("vrrp_garp_master_repeat", "vrrp_garp_master_repeat", lambda t: _int(t, 0, 65535)),
    ("vrrp_garp_master_refresh", "vrrp_garp_master_refresh", lambda t: _secs(t, 0, 86400)),
    (
        "vrrp_garp_master_refresh_repeat",
        "vrrp_garp_master_refresh_repeat",
        lambda t: _int(t, 1, 65535),
    ),
    ("vrrp_garp_interval", "vrrp_garp_interval", lambda t: _secs(t, 0, 1)),
    ("vrrp_gna_interval", "vrrp_gna_interval", lambda t: _secs(t, 0, 1)),
):
    kw(_GLOBAL, _name)(_set(_attr, _conv))
kw(_GLOBAL, "enable_script_security")(_flag("enable_script_security"))
kw(_GLOBAL, "vrrp_skip_check_adv_addr")(_flag("vrrp_skip_check_adv_addr"))


@kw(_GLOBAL, "script_user")
def _script_user(st: Stmt, g: m.GlobalDefs, d: Diagnostics) -> None:
    g.script_user = _one(st)
    g.script_group = st.args[1] if len(st.args) > 1 else None


@kw(_GLOBAL, "notification_email")
def _notification_email(st: Stmt, g: m.GlobalDefs, d: Diagnostics) -> None:
    g.notification_email.extend(w for _, w in _block_words(st))


@kw(_GLOBAL, "smtp_server")
def _smtp_server(st: Stmt, g: m.GlobalDefs, d: Diagnostics) -> None:
    g.smtp_server = str(_ip(_one(st)))
    if len(st.args) > 1:
        g.smtp_port = _int(st.args[1], 1, 65535)


# ---------------------------------------------------------------- vrrp_script


@kw(_SCRIPT, "script")
def _script(st: Stmt, s: m.VrrpScript, d: Diagnostics) -> None:
    s.script = _script_line(st)
    if len(st.args) > 1:
        raise Bad(f"unexpected '{st.args[1]}' after the script; quote a script with arguments")


for _name, _conv in (
    ("interval", lambda t: _secs(t, 0.001, 86400)),
    ("timeout", lambda t: _secs(t, 0.001, 86400)),
    ("rise", lambda t: _int(t, 1, 1 << 31)),
    ("fall", lambda t: _int(t, 1, 1 << 31)),
):
    kw(_SCRIPT, _name)(_set(_name, _conv))
kw(_SCRIPT, "init_fail")(_flag("init_fail"))


@kw(_SCRIPT, "weight")
def _weight(st: Stmt, s: m.VrrpScript, d: Diagnostics) -> None:
    s.weight = _int(_one(st), -253, 253)
    s.weight_reverse = len(st.args) > 1 and st.args[1] == "reverse"


@kw(_SCRIPT, "user")
def _user(st: Stmt, s: m.VrrpScript, d: Diagnostics) -> None:
    s.user = _one(st)
    s.group = st.args[1] if len(st.args) > 1 else None


# -------------------------------------------------------------- vrrp_instance


@kw(_INSTANCE, "state")
def _state(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    value = _one(st)
    if value not in ("MASTER", "BACKUP"):
        raise Bad(f"({i.name}) unknown state '{value}', defaulting to BACKUP")
    i.state = value


@kw(_INSTANCE, "interface")
def _interface(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    i.interface = _one(st)
    if i.interface == "lo":
        i.interface = None
        raise Bad(f"({i.name}) cannot use a loopback interface (lo) for vrrp - ignoring")


@kw(_INSTANCE, "virtual_router_id")
def _vrid(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    try:
        i.virtual_router_id = _int(_one(st), 1, 255)
    except Bad as exc:
        d.error(st.where, str(exc))
        raise Bad(f"({i.name}): VRID '{st.args[0]}' not valid - must be between 1 & 255") from None


@kw(_INSTANCE, "priority")
def _priority(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    i.priority = _int(_one(st), 1, 255)


@kw(_INSTANCE, "advert_int")
def _advert_int(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    i.advert_int = _secs(_one(st), 0.01, 255)


@kw(_INSTANCE, "version")
def _version(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    i.version = _int(_one(st), 2, 3)


kw(_INSTANCE, "nopreempt")(_flag("preempt", False))
kw(_INSTANCE, "preempt")(_flag("preempt", True))
kw(_INSTANCE, "accept")(_flag("accept", True))
kw(_INSTANCE, "no_accept")(_flag("accept", False))
kw(_INSTANCE, "smtp_alert")(_flag("smtp_alert", True))
kw(_INSTANCE, "dont_track_primary")(_flag("dont_track_primary", True))


@kw(_INSTANCE, "preempt_delay")
def _preempt_delay(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    i.preempt_delay = _secs(_one(st), 0, 1000)


@kw(_INSTANCE, "garp_master_delay")
def _garp_delay(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    i.garp_master_delay = _secs(_one(st), 0, 3600)


@kw(_INSTANCE, "garp_master_repeat")
def _garp_repeat(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    i.garp_master_repeat = _int(_one(st), 0, 65535)


@kw(_INSTANCE, "garp_master_refresh")
def _garp_refresh(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    i.garp_master_refresh = _secs(_one(st), 0, 86400)


@kw(_INSTANCE, "unicast_src_ip", "mcast_src_ip")
def _unicast_src(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    i.unicast_src_ip = _ip(_one(st))


@kw(_INSTANCE, "unicast_peer")
def _unicast_peer(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    if st.block is None:
        raise Bad("'unicast_peer' expects a block { ... }")
    for item in st.block:
        try:
            i.unicast_peer.append(_ip(item.keyword))
        except Bad as exc:
            d.error(item.where, str(exc))


@kw(_INSTANCE, "authentication")
def _authentication(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    if st.block is None:
        raise Bad("'authentication' expects a block { ... }")
    for item in st.block:
        try:
            if item.keyword == "auth_type":
                value = _one(item)
                if value == "AH":
                    d.fatal(
                        item.where,
                        f"({i.name}) auth_type AH is not supported by pykeepalived "
                        "(IPsec AH was removed from VRRP by RFC 5798); use PASS or no "
                        "authentication",
                    )
                elif value == "PASS":
                    i.auth_type = "PASS"
                else:
                    raise Bad(f"({i.name}) unknown authentication type '{value}'")
            elif item.keyword == "auth_pass":
                value = _one(item)
                if len(value) > 8:
                    d.warning(item.where, f"({i.name}) Truncating auth_pass to 8 characters")
                i.auth_pass = value[:8]
            else:
                _unknown(item, ("auth_type", "auth_pass"), d)
        except Bad as exc:
            d.error(item.where, str(exc))


def _vip(item: Stmt, d: Diagnostics) -> m.VirtualIP:
    words = item.words
    try:
        address = ipaddress.ip_interface(words[0])
    except ValueError:
        raise Bad(f"invalid virtual IP address '{words[0]}'") from None
    if "/" not in words[0]:
        address = ipaddress.ip_interface(f"{address.ip}/{address.max_prefixlen}")
    vip = m.VirtualIP(address, item.where)
    rest = list(words[1:])
    while rest:
        opt = rest.pop(0)
        if opt in ("nodad", "no_track"):
            setattr(vip, opt, True)
            continue
        if opt not in ("dev", "label", "brd", "broadcast", "scope"):
            if opt in ("use_vmac", "home", "preferred_lft", "metric", "peer"):
                raise Bad(f"virtual_ipaddress option '{opt}' is not supported yet")
            raise Bad(f"Unknown virtual_ipaddress option '{opt}'")
        if not rest:
            raise Bad(f"virtual_ipaddress option '{opt}' is missing its value")
        setattr(vip, "brd" if opt == "broadcast" else opt, rest.pop(0))
    return vip


def _vips(attr: str) -> Handler:
    def handler(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
        if st.block is None:
            raise Bad(f"'{st.keyword}' expects a block {{ ... }}")
        for item in st.block:
            try:
                getattr(i, attr).append(_vip(item, d))
            except Bad as exc:
                d.error(item.where, str(exc))

    return handler


kw(_INSTANCE, "virtual_ipaddress")(_vips("virtual_ipaddress"))
kw(_INSTANCE, "virtual_ipaddress_excluded")(_vips("virtual_ipaddress_excluded"))


def _track_items(st: Stmt, d: Diagnostics) -> list[tuple[Stmt, str, int | None, bool]]:
    """``NAME [weight N [reverse]]`` items of a track block."""
    if st.block is None:
        raise Bad(f"'{st.keyword}' expects a block {{ ... }}")
    out = []
    for item in st.block:
        name, weight, reverse = item.keyword, None, False
        rest = list(item.args)
        try:
            if rest[:1] == ["weight"]:
                weight = _int(rest[1] if len(rest) > 1 else "", -253, 253)
                reverse = rest[2:3] == ["reverse"]
            elif rest:
                raise Bad(f"unexpected '{rest[0]}' after '{name}'")
        except Bad as exc:
            d.error(item.where, str(exc))
            continue
        out.append((item, name, weight, reverse))
    return out


@kw(_INSTANCE, "track_script")
def _track_script(st: Stmt, obj: m.VrrpInstance | m.SyncGroup, d: Diagnostics) -> None:
    for item, name, weight, reverse in _track_items(st, d):
        obj.track_script.append(m.TrackScript(name, item.where, weight, reverse))


_GROUP["track_script"] = _track_script


@kw(_INSTANCE, "track_interface")
def _track_interface(st: Stmt, i: m.VrrpInstance, d: Diagnostics) -> None:
    for item, name, weight, reverse in _track_items(st, d):
        i.track_interface.append(m.TrackInterface(name, item.where, weight or 0, reverse))


def _notify(attr: str) -> Handler:
    def handler(st: Stmt, obj: m.VrrpInstance | m.SyncGroup, d: Diagnostics) -> None:
        setattr(obj.notify, attr, _script_line(st))
        if len(st.args) > 1:
            d.fatal(
                st.where,
                f"'{st.keyword}' with a user ('{' '.join(st.args[1:])}') is not supported yet; "
                "quote the script if it has arguments, or use global_defs script_user",
            )

    return handler


for _table in (_INSTANCE, _GROUP):
    for _name, _attr in (
        ("notify_master", "master"),
        ("notify_backup", "backup"),
        ("notify_fault", "fault"),
        ("notify_stop", "stop"),
        ("notify", "any"),
    ):
        kw(_table, _name)(_notify(_attr))

# ------------------------------------------------------------ vrrp_sync_group


@kw(_GROUP, "group")
def _group(st: Stmt, g: m.SyncGroup, d: Diagnostics) -> None:
    g.group.extend(w for _, w in _block_words(st))


kw(_GROUP, "smtp_alert")(_flag("smtp_alert", True))

# --------------------------------------------------------------------- loader


def _unknown(st: Stmt, known: Any, d: Diagnostics, section: str | None = None) -> None:
    if section is not None and st.keyword in UNSUPPORTED.get(section, ()):
        d.fatal(
            st.where,
            f"'{st.keyword}' is a keepalived keyword that pykeepalived does not support yet",
        )
        return
    close = difflib.get_close_matches(st.keyword, list(known), n=1)
    hint = f"; did you mean '{close[0]}' ?" if close else ""
    d.error(st.where, f"Unknown keyword '{st.keyword}'{hint}")


def _apply(block: tuple[Stmt, ...], table: dict[str, Handler], obj: Any, section: str, d) -> None:
    for st in block:
        handler = table.get(st.keyword)
        if handler is None:
            _unknown(st, table, d, section)
            continue
        try:
            handler(st, obj, d)
        except Bad as exc:
            d.error(st.where, str(exc))


def build(stmts: list[Stmt], d: Diagnostics) -> m.Config:
    """Statements → model, then the cross-reference checks."""
    cfg = m.Config()
    for st in stmts:
        kwd = st.keyword
        if kwd in ("global_defs", "vrrp_script", "vrrp_instance", "vrrp_sync_group"):
            if st.block is None:
                d.error(st.where, f"'{kwd}' expects a block {{ ... }}")
                continue
            if kwd == "global_defs":
                cfg.global_defs.where = st.where
                _apply(st.block, _GLOBAL, cfg.global_defs, kwd, d)
                continue
            if len(st.args) != 1:
                d.error(st.where, f"'{kwd}' expects exactly one name")
                continue
            name = st.args[0]
            if kwd == "vrrp_script":
                obj: Any = cfg.scripts.setdefault(name, m.VrrpScript(name, st.where))
                _apply(st.block, _SCRIPT, obj, kwd, d)
            elif kwd == "vrrp_instance":
                if name in cfg.instances:
                    d.error(st.where, f"vrrp_instance {name} is defined more than once")
                    continue
                obj = cfg.instances[name] = m.VrrpInstance(name, st.where)
                _apply(st.block, _INSTANCE, obj, kwd, d)
            else:
                obj = cfg.sync_groups.setdefault(name, m.SyncGroup(name, st.where))
                _apply(st.block, _GROUP, obj, kwd, d)
        else:
            _unknown(
                st, ("global_defs", "vrrp_script", "vrrp_instance", "vrrp_sync_group"), d, "top"
            )
    check(cfg, d)
    return cfg


def load(path: str, d: Diagnostics) -> m.Config:
    """Read, parse and check ``path``; problems land in ``d``."""
    return build(read_config(path, d), d)
