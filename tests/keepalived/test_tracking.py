"""Effective priority from tracked scripts and interfaces (keepalived.conf(5) weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyhaproxy.keepalived.instance import Instance
from pyhaproxy.keepalived.model import (
    GlobalDefs,
    TrackInterface,
    TrackScript,
    VrrpInstance,
    VrrpScript,
)
from pyhaproxy.keepalived.reader import Where
from pyhaproxy.keepalived.scripts import ScriptTracker

W = Where("t.conf", 1)


def make(priority, scripts, interfaces=()):
    conf = VrrpInstance("VI_1", W, interface="eth0", virtual_router_id=1, priority=priority)
    trackers = {}
    for name, weight, ok, override in scripts:
        t = ScriptTracker(VrrpScript(name, W, script="/bin/true", weight=weight), None)
        t.ok = ok
        trackers[name] = t
        conf.track_script.append(TrackScript(name, W, override))
    for name, weight, _up in interfaces:
        conf.track_interface.append(TrackInterface(name, W, weight))
    inst = Instance(conf, GlobalDefs(), None, None, trackers)  # type: ignore[arg-type]
    inst._links = {name: up for name, _w, up in interfaces}
    return inst


@pytest.mark.parametrize(
    "scripts, expected",
    [
        ([("up", 2, True, None)], 102),  # chk_haproxy: add 2 points if OK
        ([("up", 2, False, None)], 100),
        ([("down", -30, False, None)], 70),
        ([("down", -30, True, None)], 100),
        ([("a", 10, True, None), ("b", -5, False, None)], 105),
        ([("a", 10, True, -20)], 100),  # track_script weight overrides the script's
        ([("a", 10, False, -20)], 80),
    ],
)
def test_script_weights(scripts, expected):
    total, failed = make(100, scripts)._weights()
    assert 100 + total == expected and failed == set()


def test_weight_zero_failure_is_a_fault():
    _, failed = make(100, [("z", 0, False, None)])._weights()
    assert failed == {"script z"}


def test_interface_weights():
    inst = make(100, [], [("eth1", -40, False), ("eth2", 5, True), ("eth3", -7, True)])
    assert inst._weights() == (-35, set())


def test_tracker_rise_and_fall():
    t = ScriptTracker(VrrpScript("s", W, script="/bin/true", rise=2, fall=3), None)
    seen = []
    t.listeners.append(lambda tr: seen.append(tr.ok))
    for result in (False, False, True, False, False, False):
        t.record(result)
    assert (t.ok, seen) == (False, [False])
    t.record(True)
    assert t.ok is False
    t.record(True)
    assert (t.ok, seen) == (True, [False, True])


def test_script_runs_with_timeout(tmp_path: Path):
    import asyncio

    from pyhaproxy.keepalived.scripts import run

    assert asyncio.run(run(["/bin/true"], 5)) == 0
    assert asyncio.run(run(["/bin/false"], 5)) == 1
    assert asyncio.run(run(["/bin/sleep", "5"], 0.2)) == -1
    assert asyncio.run(run([str(tmp_path / "missing")], 1)) == -1
