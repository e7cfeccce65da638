"""Check intervals through the real process, compared with Debian's haproxy:
``inter`` / ``fastinter`` / ``downinter`` as the server's health moves
(configuration.txt §5.2 "fastinter"), the random part of ``spread-checks``
(§3.1), and a ``disabled`` server with ``check``: in maintenance, not
checked until ``enable server`` (§5.2 "disabled", management.txt).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from tests.checks.servers import Target
from tests.checks.test_compat import _normalize
from tests.dataplane.conftest import read_log
from tests.dataplane.servers import free_port
from tests.runtime.client import cli, wait_socket

OK = Target.http(200, b"ok")
BAD = Target.http(503, b"no", "Service Unavailable")

CFG = """
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
    option httpchk GET /chk
    server s1 127.0.0.1:{srv} check inter 700 fastinter 150 downinter 400 rise 3 fall 3
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""


def _classes(times: list[float]) -> list[str]:
    """Each gap between two checks named by the interval it is closest to,
    consecutive repeats merged: the shape of the schedule."""
    names = {"fast": 0.15, "down": 0.4, "inter": 0.7}
    out: list[str] = []
    for a, b in zip(times, times[1:], strict=False):
        name = min(names, key=lambda n: abs(names[n] - (b - a)))
        if not out or out[-1] != name:
            out.append(name)
    return out


def test_fastinter_downinter_follow_health_like_haproxy(launcher) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    shapes, logs = [], []
    for start in (launcher.start, launcher.haproxy):
        srv = Target(OK)
        try:
            fe = free_port()
            proc = start(CFG.format(srv=srv.port, fe=fe), wait=fe)
            time.sleep(2.0)  # health climbs to the top (fastinter), then inter
            srv.set("reply", BAD)
            time.sleep(2.5)  # going down (fastinter), then DOWN (downinter)
            srv.set("reply", OK)
            time.sleep(2.2)  # going up (fastinter), then UP (inter)
            proc.terminate()
            proc.wait(5)
        finally:
            srv.close()
        shapes.append(_classes([t for t, line in srv.seen]))
        logs.append(read_log(proc))
    mine, theirs = shapes
    # the first success takes a fresh server (health at rise) to the top:
    # inter at once; failing: fastinter until DOWN, then downinter; the
    # first success of a DOWN server moves it up: fastinter until UP
    assert theirs == ["inter", "fast", "down", "fast", "inter"], theirs
    assert mine == theirs
    assert _normalize(logs[0]) == _normalize(logs[1])


SPREAD_CFG = """
global
    spread-checks {spread}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
    option httpchk GET /chk
    server s1 127.0.0.1:{srv} check inter 200
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""


@pytest.mark.parametrize("spread", [0, 50])
def test_spread_checks_jitter_like_haproxy(launcher, spread: int) -> None:
    """spread-checks 50: each interval is inter +/- up to 50% (100..300 ms
    for inter 200), uniformly; 0: inter every time."""
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    stats = []
    for start in (launcher.start, launcher.haproxy):
        srv = Target(OK)
        try:
            fe = free_port()
            proc = start(SPREAD_CFG.format(spread=spread, srv=srv.port, fe=fe), wait=fe)
            time.sleep(6.0)
            proc.terminate()
            proc.wait(5)
        finally:
            srv.close()
        times = [t for t, _ in srv.seen][1:]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(gaps) >= 15, gaps
        stats.append(gaps)
    for gaps in stats:
        # the machine running the tests is shared: a few late starts are
        # tolerated, so the shares of short and long gaps are compared
        n = len(gaps)
        short = sum(1 for g in gaps if g < 0.16) / n
        long = sum(1 for g in gaps if g > 0.24) / n
        near = sum(1 for g in gaps if 0.19 <= g <= 0.23) / n
        assert 0.16 <= statistics.median(gaps) <= 0.24, gaps
        if spread:
            # uniform over 100..300 ms: about 30% below 160, 30% above 240
            # (late wake-ups of a loaded machine lengthen the short ones:
            # a few are enough to tell it from no jitter, where near is ~1)
            assert short >= 0.05 and long >= 0.05 and near <= 0.5, gaps
            assert min(gaps) >= 0.09, gaps
        else:
            # (a check recorded late by a busy target shortens the next gap)
            assert short <= 0.1 and near >= 0.6, gaps


DISABLED_CFG = """
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
    option httpchk GET /chk
    server s1 127.0.0.1:{srv} check inter 150 disabled
    server s2 127.0.0.1:{other}
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""


def test_disabled_server_with_check_like_haproxy(launcher, tmp_path) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    results = []
    for name, start in (("py", launcher.start), ("ha", launcher.haproxy)):
        srv = Target(Target.http(200, b"s1"))
        other = Target(Target.http(200, b"s2"))
        sock = str(tmp_path / f"{name}.sock")
        try:
            fe = free_port()
            cfg = DISABLED_CFG.format(sock=sock, srv=srv.port, other=other.port, fe=fe)
            proc = start(cfg, wait=fe)
            wait_socket(sock)
            time.sleep(0.8)
            before = len(srv.seen)  # in maintenance: not checked
            lines = cli(sock, "show servers state be").splitlines()
            state = next(x.split() for x in lines if " s1 " in x and not x.startswith("#"))
            cli(sock, "enable server be/s1")
            time.sleep(0.8)
            after = len(srv.seen)
            proc.terminate()
            proc.wait(5)
        finally:
            srv.close()
            other.close()
        # srv_admin_state: 5 = forced (FMAINT) by the configuration (CMAINT)
        results.append((before, after, state[6], read_log(proc)))
    (b1, a1, adm1, log1), (b2, a2, adm2, log2) = results
    assert (b1, b2) == (0, 0)
    assert a1 >= 3 and a2 >= 3
    assert adm1 == adm2 == "5"
    assert _normalize(log1) == _normalize(log2)
