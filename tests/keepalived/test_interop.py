"""pykeepalived against Debian's keepalived, in namespaces the tests build.

Timing bounds come from RFC 5798 §6.1: a crashed master is replaced after the
Master_Down_Interval, 3 * Advertisement_Interval + Skew_Time; a master that
stops gracefully sends priority 0 and is replaced after Skew_Time.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .confs import GLOBAL, instance
from .netlab import need_keepalived, wait_for

pytestmark = [pytest.mark.timeout(60)]

VIP = "10.70.0.200"
SLACK = 1.0  # scheduling and process start-up margin, seconds


def down_interval(priority: int, advert: float = 1.0) -> float:
    return 3 * advert + (256 - priority) * advert / 256


@pytest.mark.parametrize("master_kind", ["py", "ka"])
def test_master_backup_crash_and_preempt_back(make_lab, master_kind):
    """One side MASTER (150), the other BACKUP (100); crash; preempt back."""
    need_keepalived()
    backup_kind = "ka" if master_kind == "py" else "py"
    lab = make_lab()
    conf_m = GLOBAL + instance(state="MASTER", priority=150)
    conf_b = GLOBAL + instance(state="BACKUP", priority=100)
    backup = lab.start(1, backup_kind, conf_b)
    master = lab.start(0, master_kind, conf_m)
    assert wait_for(lambda: lab.holders(VIP) == [0], 10), (lab.log(master), lab.log(backup))
    # Stable: the backup stays backup for a few adverts.
    assert wait_for(lambda: lab.has_ip(1, VIP), 2.5) is None, lab.log(backup)

    lab.stop(master, signal.SIGKILL)  # a crash leaves the VIP configured on node 0
    took = wait_for(lambda: lab.has_ip(1, VIP), 10)
    assert took is not None, lab.log(backup)
    assert took <= down_interval(100) + SLACK, took

    master = lab.start(0, master_kind, conf_m, name=f"{master_kind}0-restart")
    assert wait_for(lambda: not lab.has_ip(1, VIP), 10) is not None, (
        lab.log(master),
        lab.log(backup),
    )
    assert wait_for(lambda: "Entering MASTER STATE" in lab.log(master), 2) is not None


@pytest.mark.parametrize("master_kind", ["py", "ka"])
def test_graceful_stop_moves_vip_within_a_second(make_lab, master_kind):
    need_keepalived()
    backup_kind = "ka" if master_kind == "py" else "py"
    lab = make_lab()
    backup = lab.start(1, backup_kind, GLOBAL + instance(priority=100))
    master = lab.start(0, master_kind, GLOBAL + instance(state="MASTER", priority=150))
    assert wait_for(lambda: lab.holders(VIP) == [0], 10), (lab.log(master), lab.log(backup))
    assert wait_for(lambda: lab.has_ip(1, VIP), 1.5) is None

    lab.stop(master, signal.SIGTERM)
    took = wait_for(lambda: lab.has_ip(1, VIP), 5)
    assert took is not None and took <= 1.0 + 0.3, (took, lab.log(backup))
    assert not lab.has_ip(0, VIP), "the stopping master must remove its VIP"


def test_nopreempt_keeps_lower_master(make_lab):
    need_keepalived()
    lab = make_lab()
    ka = lab.start(1, "ka", GLOBAL + instance(state="MASTER", priority=100))
    assert wait_for(lambda: lab.has_ip(1, VIP), 10) is not None, lab.log(ka)
    py = lab.start(0, "py", GLOBAL + instance(priority=150, extra="  nopreempt\n"))
    # Higher priority but nopreempt: it must not take over (> one master-down interval).
    assert wait_for(lambda: lab.has_ip(0, VIP), down_interval(150) + 1.5) is None, lab.log(py)
    assert lab.holders(VIP) == [1]
    lab.stop(ka, signal.SIGTERM)
    assert wait_for(lambda: lab.holders(VIP) == [0], 3) is not None, lab.log(py)


def test_preempt_delay_postpones_takeover(make_lab):
    need_keepalived()
    lab = make_lab()
    ka = lab.start(1, "ka", GLOBAL + instance(state="MASTER", priority=100))
    assert wait_for(lambda: lab.has_ip(1, VIP), 10) is not None, lab.log(ka)
    py = lab.start(0, "py", GLOBAL + instance(priority=150, extra="  preempt_delay 2\n"))
    took = wait_for(lambda: lab.holders(VIP) == [0], 15)
    assert took is not None, lab.log(py)
    # Not before the delay plus one master-down interval.
    assert took >= 2 + down_interval(150) - 0.5, took


def test_unicast_peers(make_lab):
    need_keepalived()
    lab = make_lab()

    def conf(me: int, peer: int, **kw) -> str:
        extra = f"  unicast_src_ip 10.70.0.{me}\n  unicast_peer {{\n    10.70.0.{peer}\n  }}\n"
        return GLOBAL + instance(extra=extra, **kw)

    ka = lab.start(1, "ka", conf(2, 1, priority=100))
    py = lab.start(0, "py", conf(1, 2, state="MASTER", priority=150))
    assert wait_for(lambda: lab.holders(VIP) == [0], 10), (lab.log(py), lab.log(ka))
    assert wait_for(lambda: lab.has_ip(1, VIP), 2.5) is None, lab.log(ka)
    lab.stop(py, signal.SIGKILL)
    took = wait_for(lambda: lab.has_ip(1, VIP), 10)
    assert took is not None and took <= down_interval(100) + SLACK, (took, lab.log(ka))


@pytest.mark.parametrize("vip", ["10.70.0.200", "fd00::200"])
def test_vrrpv3(make_lab, vip):
    need_keepalived()
    lab = make_lab()
    prefix = "/24" if "." in vip else "/64"
    extra = "  version 3\n"
    ka = lab.start(
        1, "ka", GLOBAL + instance(priority=100, vips=(vip + prefix,), extra=extra, auth=False)
    )
    py = lab.start(
        0,
        "py",
        GLOBAL
        + instance(state="MASTER", priority=150, vips=(vip + prefix,), extra=extra, auth=False),
    )
    assert wait_for(lambda: lab.holders(vip) == [0], 10), (lab.log(py), lab.log(ka))
    assert wait_for(lambda: lab.has_ip(1, vip), 2.5) is None, lab.log(ka)
    lab.stop(py, signal.SIGTERM)
    took = wait_for(lambda: lab.has_ip(1, vip), 5)
    assert took is not None and took <= 1.3, (took, lab.log(ka))
    assert "Entering BACKUP STATE" in lab.log(ka)


@pytest.mark.parametrize("weight", [-60, 0])
def test_failing_track_script_causes_failover(make_lab, tmp_path, weight):
    need_keepalived()
    lab = make_lab()
    flag = tmp_path / "haproxy-is-up"
    flag.write_text("")
    script = (
        f'vrrp_script chk_haproxy {{\n  script "/usr/bin/test -e {flag}"\n'
        f"  interval 1\n  weight {weight}\n  fall 1\n  rise 1\n}}\n"
    )
    track = "  track_script {\n    chk_haproxy\n  }\n"
    ka = lab.start(1, "ka", GLOBAL + instance(priority=100))
    py = lab.start(0, "py", GLOBAL + script + instance(state="MASTER", priority=150, extra=track))
    assert wait_for(lambda: lab.holders(VIP) == [0], 10), (lab.log(py), lab.log(ka))
    flag.unlink()
    # One script interval to notice, then the backup's master-down interval
    # (weight < 0: the lower-priority adverts are ignored) or skew (FAULT: priority 0).
    took = wait_for(lambda: lab.holders(VIP) == [1], 12)
    assert took is not None and took <= 1 + down_interval(100) + SLACK, (took, lab.log(py))
    expected = "Entering FAULT STATE" if weight == 0 else "Entering BACKUP STATE"
    assert expected in lab.log(py)
    flag.write_text("")
    assert wait_for(lambda: lab.holders(VIP) == [0], 12), lab.log(py)


def test_sync_group_moves_together(make_lab):
    need_keepalived()
    lab = make_lab(lans=2)
    vip_ext, vip_int = "10.70.0.200", "10.71.0.200"

    def conf(state: str, prio: int) -> str:
        return (
            GLOBAL
            + "vrrp_sync_group VG1 {\n  group {\n    RH_EXT\n    RH_INT\n  }\n}\n"
            + instance("RH_EXT", state=state, priority=prio, vrid=50, vips=(vip_ext + "/24",))
            + instance(
                "RH_INT", state=state, priority=prio, vrid=2, iface="eth1", vips=(vip_int + "/24",)
            )
        )

    ka = lab.start(1, "ka", conf("BACKUP", 99))
    py = lab.start(0, "py", conf("MASTER", 100))
    both_on = lambda n: lambda: lab.holders(vip_ext) == [n] and lab.holders(vip_int) == [n]  # noqa: E731
    assert wait_for(both_on(0), 10), (lab.log(py), lab.log(ka))
    # The internal link fails on the master: both VIPs move, not just RH_INT's.
    lab.run(lab.nodes[0], "ip", "link", "set", "eth1", "down")
    assert wait_for(both_on(1), 8), (lab.log(py), lab.log(ka))
    lab.run(lab.nodes[0], "ip", "link", "set", "eth1", "up")
    assert wait_for(both_on(0), 12), (lab.log(py), lab.log(ka))


def _ping_loss_during_failover(make_lab, kind: str) -> tuple[int, int]:
    lab = make_lab(client=True)
    backup = lab.start(1, kind, GLOBAL + instance(priority=100))
    master = lab.start(0, kind, GLOBAL + instance(state="MASTER", priority=150))
    assert wait_for(lambda: lab.holders(VIP) == [0], 10), lab.log(master)
    assert wait_for(lambda: "Entering BACKUP STATE" in lab.log(backup), 5) is not None
    pinger = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            lab.client,
            sys.executable,
            str(Path(__file__).with_name("pinger.py")),
        ]
        + [VIP, "0.02", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    lab.stop(master, signal.SIGTERM)
    out, _ = pinger.communicate(timeout=15)
    sent, received = map(int, out.split())
    assert lab.holders(VIP) == [1]
    return sent, received


def test_client_loses_no_more_pings_than_with_keepalived(make_lab):
    """A client pings the VIP every 20 ms across a graceful failover."""
    need_keepalived()
    ka_sent, ka_recv = _ping_loss_during_failover(make_lab, "ka")
    py_sent, py_recv = _ping_loss_during_failover(make_lab, "py")
    ka_lost, py_lost = ka_sent - ka_recv, py_sent - py_recv
    print(f"lost: keepalived {ka_lost}/{ka_sent}, pykeepalived {py_lost}/{py_sent}")
    # Same schedule for both; allow scheduling noise of a few packets.
    assert py_lost <= ka_lost + 5, (py_lost, ka_lost)
    assert py_recv > 0.7 * py_sent
