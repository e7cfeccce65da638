"""The pykeepalived process: configuration, instances, signals, pid files.

Signals as keepalived's: HUP reloads (instances whose configuration did not
change keep running untouched; a changed MASTER keeps mastership), TERM/INT
stop (a MASTER sends a priority 0 advert and removes its VIPs), USR1 writes
``/tmp/keepalived.data``, USR2 ``/tmp/keepalived.stats``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from pyhaproxy.keepalived import dump, fsm, net
from pyhaproxy.keepalived.instance import Group, Instance
from pyhaproxy.keepalived.model import Config
from pyhaproxy.keepalived.parser import load
from pyhaproxy.keepalived.reader import FATAL, Diagnostics
from pyhaproxy.keepalived.scripts import Notifier, ScriptTracker

log = logging.getLogger("pykeepalived")


def sd_notify(state: str) -> None:
    """systemd's sd_notify(3) over $NOTIFY_SOCKET (Type=notify)."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(state.encode(), path)
    except OSError as exc:
        log.warning("sd_notify failed: %s", exc)


def report(diags: Diagnostics) -> None:
    for d in diags.items:
        (log.error if d.severity != "warning" else log.warning)("%s", d)


class Daemon:
    def __init__(self, config_file: str) -> None:
        self.config_file = config_file
        self.cfg = Config()
        self.netlink = net.Netlink()
        self.instances: dict[str, Instance] = {}
        self.trackers: dict[str, ScriptTracker] = {}
        self.groups: dict[str, Group] = {}
        self.notifier = Notifier(self.cfg.global_defs)
        self.stopped = asyncio.Event()

    # -------------------------------------------------------------- loading

    def _load(self) -> Config | None:
        diags = Diagnostics()
        cfg = load(self.config_file, diags)
        report(diags)
        if diags.count(FATAL):
            log.error("Configuration %s cannot be run; see the errors above", self.config_file)
            return None
        return cfg

    def start(self) -> bool:
        cfg = self._load()
        if cfg is None:
            return False
        self._apply(cfg, previous={})
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGUSR1, self.write_data)
        loop.add_signal_handler(signal.SIGUSR2, self.write_stats)
        log.info("Startup complete")
        sd_notify("READY=1")
        return True

    def _apply(self, cfg: Config, previous: dict[str, tuple[Instance, bool]]) -> None:
        """Start ``cfg``; ``previous`` maps names to (running instance, unchanged)."""
        self.cfg = cfg
        self.notifier.gdefs = cfg.global_defs
        for name, conf in cfg.scripts.items():
            old = self.trackers.get(name)
            if old is not None and old.conf == conf:
                continue
            if old is not None:
                old.stop()
            tracker = ScriptTracker(conf, cfg.global_defs.script_user)
            if old is not None:
                tracker.ok, tracker.listeners = old.ok, old.listeners
            self.trackers[name] = tracker
            tracker.start()
        for name in [n for n in self.trackers if n not in cfg.scripts]:
            self.trackers.pop(name).stop()
        self.groups = {n: Group(g) for n, g in cfg.sync_groups.items()}
        for name, conf in cfg.instances.items():
            kept = previous.get(name)
            if kept is not None and kept[1]:
                inst = kept[0]
                inst.gdefs, inst.notifier = cfg.global_defs, self.notifier
            else:
                inst = Instance(conf, cfg.global_defs, self.netlink, self.notifier, self.trackers)
            self.instances[name] = inst
            if conf.sync_group and conf.sync_group in self.groups:
                inst.group = self.groups[conf.sync_group]
                inst.group.members.append(inst)
            else:
                inst.group = None
        for name, inst in self.instances.items():
            kept = previous.get(name)
            if kept is None:
                inst.start()
            elif not kept[1]:
                inst.start(initial=kept[0].router.state)
        for group in self.groups.values():
            states = {m.router.state for m in group.members}
            if len(states) == 1:
                group.state = states.pop().value

    # --------------------------------------------------------------- signals

    def reload(self) -> None:
        log.info("Reloading")
        sd_notify("RELOADING=1")
        cfg = self._load()
        if cfg is None:
            log.error("Reload failed; keeping the running configuration")
            sd_notify("READY=1")
            return
        previous: dict[str, tuple[Instance, bool]] = {}
        old_scripts = self.cfg.scripts
        for name, inst in list(self.instances.items()):
            new = cfg.instances.get(name)
            same = (
                new is not None
                and new == inst.conf
                and all(
                    old_scripts.get(t.name) == cfg.scripts.get(t.name) for t in new.track_script
                )
                and self.cfg.global_defs == cfg.global_defs
                and _group_conf(self.cfg, name) == _group_conf(cfg, name)
            )
            if same:
                previous[name] = (inst, True)
                continue
            # Changed or removed: a MASTER hands over its state, not its VIPs
            # (removed instances release them with a priority 0 advert).
            if new is not None and inst.router.state is fsm.State.MASTER:
                self._drop_stale_vips(inst, new)
                inst.stop(release=False)
            else:
                inst.stop(release=True)
            del self.instances[name]
            if new is not None:
                previous[name] = (inst, False)
        self._apply(cfg, previous)
        log.info("Reload finished")
        sd_notify("READY=1")

    def _drop_stale_vips(self, inst: Instance, new) -> None:
        keep = {
            (v.address, v.dev) for v in [*new.virtual_ipaddress, *new.virtual_ipaddress_excluded]
        }
        for vip in [*inst.conf.virtual_ipaddress, *inst.conf.virtual_ipaddress_excluded]:
            if (vip.address, vip.dev) not in keep:
                try:
                    self.netlink.remove(inst.conf.interface, vip)
                except Exception as exc:
                    log.error("(%s) cannot remove %s: %s", inst.name, vip.address, exc)

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        log.info("Stopping")
        sd_notify("STOPPING=1")
        for inst in self.instances.values():
            inst.stop(release=True)
        for tracker in self.trackers.values():
            tracker.stop()
        self.stopped.set()

    def write_data(self) -> None:
        router_id = self.cfg.global_defs.router_id or socket.gethostname()
        _write(dump.DATA_FILE, dump.data(self.cfg, self.instances.values(), router_id))

    def write_stats(self) -> None:
        _write(dump.STATS_FILE, dump.stats(self.instances.values()))

    async def run(self) -> int:
        if not self.start():
            return 1
        await self.stopped.wait()
        await self.notifier.drain()
        self.netlink.close()
        log.info("Stopped")
        return 0


def _group_conf(cfg: Config, name: str):
    inst = cfg.instances.get(name)
    if inst is None or inst.sync_group is None:
        return None
    return cfg.sync_groups.get(inst.sync_group)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
