"""``slowstart`` through the real process, compared with Debian's haproxy
(configuration.txt §5.2): a server back UP takes a small share of the
traffic first, its effective weight (``show stat``) growing in HAProxy's
one-second steps to the full weight; at start it is at full weight.
"""

from __future__ import annotations

import csv
import io
import time
import urllib.request
from pathlib import Path

import pytest

from tests.checks.servers import Target
from tests.dataplane.servers import free_port
from tests.runtime.client import cli, wait_socket

CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
    balance roundrobin
    server s1 127.0.0.1:{s1} weight 10 check port {chk} inter 200 rise 1 fall 1 slowstart 4s
    server s2 127.0.0.1:{s2} weight 10
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""


def _weight(sock: str) -> tuple[int, str, str]:
    rows = csv.DictReader(io.StringIO(cli(sock, "show stat").lstrip("# ")))
    for row in rows:
        if row["pxname"] == "be" and row["svname"] == "s1":
            return int(row["weight"]), row["status"], row["throttle"]
    raise AssertionError("be/s1 not in show stat")


def _share(fe: int, n: int) -> float:
    got = []
    for _ in range(n):
        with urllib.request.urlopen(f"http://127.0.0.1:{fe}/", timeout=5) as r:
            got.append(r.read())
    return got.count(b"s1") / n


def _scenario(start, tmp: Path, name: str, targets: dict[str, Target]) -> dict:
    sock = str(tmp / f"{name}.sock")
    fe = free_port()
    targets["chk"].set("reply", b"")
    cfg = CFG.format(
        sock=sock, fe=fe, chk=targets["chk"].port, s1=targets["s1"].port, s2=targets["s2"].port
    )
    proc = start(cfg, wait=fe)
    try:
        wait_socket(sock)
        time.sleep(0.5)
        out = {"at_start": _weight(sock)}  # never slowed down at start
        targets["chk"].set("refuse")
        time.sleep(0.6)  # DOWN
        out["down"] = _weight(sock)
        targets["chk"].set("reply", b"")
        t0 = time.monotonic()
        while _weight(sock)[1] != "UP" and time.monotonic() - t0 < 2:
            time.sleep(0.02)
        out["first"] = _share(fe, 34)  # in its first second back
        weights = []
        t1 = time.monotonic()
        while time.monotonic() - t1 < 8.0 and (len(weights) < 3 or weights[-3:] != [10] * 3):
            weight, _, throttle = _weight(sock)
            weights.append(weight)
            out.setdefault("throttles", set()).add((weight, throttle))
            time.sleep(0.2)
        out["weights"] = weights
        out["full"] = _share(fe, 40)
    finally:
        proc.terminate()
        proc.wait(5)
    return out


def test_slowstart_ramp_matches_haproxy(launcher, tmp_path) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    targets = {
        "chk": Target(b""),
        "s1": Target(Target.http(200, b"s1")),
        "s2": Target(Target.http(200, b"s2")),
    }
    try:
        mine = _scenario(launcher.start, tmp_path, "py", targets)
        theirs = _scenario(launcher.haproxy, tmp_path, "ha", targets)
    finally:
        for t in targets.values():
            t.close()
    for out in (mine, theirs):
        assert out["at_start"] == (10, "UP", "")
        assert out["down"][1] == "DOWN"
        # weight 10 * 1/16 against 10: a few percent of the requests
        assert out["first"] < 0.25, out
        assert 0.35 <= out["full"] <= 0.65, out
        assert out["weights"] == sorted(out["weights"]), out  # it only grows
        assert out["weights"][-1] == 10
    # the steps of a 4 s slow start of weight 10: ceil(10 * (16 * t + 4) / 4 / 16)
    # for t = 0..3 s, then 10 (which steps a poll sees depends on timing)
    assert set(mine["weights"]) <= {1, 4, 6, 9, 10} >= set(theirs["weights"])
    assert {4, 6, 9} & set(mine["weights"]) and {4, 6, 9} & set(theirs["weights"])
    # show stat's throttle: the percent of the full weight, empty once at full
    steps = {(1, "6"), (4, "31"), (6, "56"), (9, "81"), (10, "")}
    assert mine["throttles"] <= steps >= theirs["throttles"], (mine, theirs)
