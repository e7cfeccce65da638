"""Health checks through the real process, compared with Debian's haproxy.

Both run the same configuration against the same check targets, which die,
refuse, hang, answer the wrong status or body, then recover; the state
messages on stderr must be the same, word for word (check durations and
PIDs aside), and traffic must only go to servers that are UP.
"""

from __future__ import annotations

import re
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest

from tests.checks.servers import Target
from tests.dataplane.conftest import read_log
from tests.dataplane.servers import free_port

CFG = """
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 300ms
backend be
{log}
    option httpchk GET /health
    http-check expect status 200
    server ok 127.0.0.1:{ok} check inter 150 fall 2 rise 2
    server refused 127.0.0.1:{refused} check inter 150 fall 2 rise 2
    server wrong 127.0.0.1:{wrong} check inter 150 fall 2 rise 2
    server hang 127.0.0.1:{hang} check inter 150 fall 2 rise 2
    server dies 127.0.0.1:{dies} check inter 150 fall 2 rise 1
backend bbody
{log}
    option httpchk GET /
    http-check expect string alive
    server body 127.0.0.1:{body} check inter 150 rise 1
backend bt
{log}
    option tcp-check
    tcp-check send PING\\r\\n
    tcp-check expect string +PONG
    server t1 127.0.0.1:{t1} check inter 150 rise 1 fall 1
    server t2 127.0.0.1:{t2} check inter 150 rise 1 fall 1
    server t3 127.0.0.1:{t3} check inter 150 rise 1 fall 1
backend bl4
{log}
    server l1 127.0.0.1:{l1} check inter 150 rise 1 fall 1
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""


def _normalize(text: str) -> dict[str, list[str]]:
    """Per server (or backend), its messages without PID and durations."""
    out: dict[str, list[str]] = defaultdict(list)
    for line in text.splitlines():
        m = re.match(r"\[(WARNING|ALERT)\]\s+\(\d+\) : (.*)$", line)
        if not m:
            continue
        msg = re.sub(r"check duration: \d+ms", "check duration: Nms", m.group(2))
        # how many servers are left depends on the order of concurrent checks
        msg = re.sub(r"\d+ active and \d+ backup", "N active and M backup", msg)
        who = re.search(r"[Ss]erver (\S+/\S+?)[ ,]", msg) or re.search(r"backend '(\S+)'", msg)
        out[who.group(1) if who else "?"].append(f"{m.group(1)} {msg}")
    return dict(out)


def _exact(text: str) -> list[str]:
    return [
        re.sub(r"check duration: \d+ms", "", line.split(" : ", 1)[1])
        for line in text.splitlines()
        if line.startswith(("[WARNING]", "[ALERT]"))
    ]


def _targets() -> dict[str, Target]:
    return {
        "ok": Target(Target.http(200, b"ok")),
        "refused": Target(mode="refuse"),
        "wrong": Target(Target.http(503, b"no", "Service Unavailable")),
        "hang": Target(mode="hang"),
        "dies": Target(Target.http(200, b"dies")),
        "body": Target(Target.http(200, b"I am dead")),
        "t1": Target(b"-ERR\r\n"),
        "t2": Target(mode="hang"),
        "t3": Target(mode="refuse"),
        "l1": Target(mode="refuse"),
    }


def _get(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        return r.read()


@pytest.mark.parametrize("log_checks", [False, True])
def test_states_and_messages_match_haproxy(launcher, log_checks: bool) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    targets = _targets()
    try:
        ports = {name: t.port for name, t in targets.items()}
        log = "    option log-health-checks" if log_checks else ""
        fe_py, fe_ha = free_port(), free_port()
        py = launcher.start(CFG.format(log=log, fe=fe_py, **ports), wait=fe_py)
        ha = launcher.haproxy(CFG.format(log=log, fe=fe_ha, **ports), wait=fe_ha)
        time.sleep(1.5)
        # only the healthy servers get traffic
        assert {_get(fe_py) for _ in range(6)} == {b"ok", b"dies"}
        targets["dies"].set("refuse")
        time.sleep(1.0)
        assert {_get(fe_py) for _ in range(4)} == {b"ok"}
        # everything recovers
        for name in ("refused", "wrong", "hang", "dies"):
            targets[name].set("reply", Target.http(200, name.encode()))
        targets["body"].set("reply", Target.http(200, b"I am alive"))
        for name in ("t1", "t2", "t3"):
            targets[name].set("reply", b"+PONG\r\n")
        targets["l1"].set("reply", b"")
        time.sleep(2.0)
        got = {_get(fe_py) for _ in range(20)}
        assert got == {b"ok", b"refused", b"wrong", b"hang", b"dies"}
        # both stop while every target still answers as it did: closing a
        # target first would race its next check against the SIGTERM
        py.terminate()
        ha.terminate()
        py.wait(5)
        ha.wait(5)
    finally:
        for t in targets.values():
            t.close()
    mine, theirs = _normalize(read_log(py)), _normalize(read_log(ha))
    assert mine == theirs
    # the scenario did produce each kind of message
    joined = "\n".join(sum(theirs.values(), []))
    for words in (
        "Layer4 connection problem",
        "Layer7 wrong status",
        "Layer7 timeout",
        "TCPCHK did not match content",
        "has no server available",
        " is UP",
    ):
        assert words in joined


def test_check_timing_follows_inter(launcher) -> None:
    """Each check starts within one ``inter`` of its schedule (one ``inter``
    after the previous one) while the proxy forwards traffic to the same
    server."""
    target = Target(Target.http(200, b"ok"))
    fe = free_port()
    cfg = f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    # a loaded test machine may answer a check late: not this test's subject
    timeout check 1s
backend be
    option httpchk OPTIONS /chk
    server s 127.0.0.1:{target.port} check inter 200
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""
    try:
        launcher.start(cfg, wait=fe)
        deadline = time.monotonic() + 3.0
        requests = 0
        while time.monotonic() < deadline:
            assert _get(fe) == b"ok"
            requests += 1
    finally:
        target.close()
    starts = [t for t, line in target.seen if line == b"OPTIONS /chk HTTP/1.0"]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert requests > 20 and len(gaps) >= 8
    # within one inter of the schedule; the machine running the tests is
    # shared, so a rare late start is tolerated
    late = [g for g in gaps if not 0.1 <= g <= 0.4]
    assert len(late) <= max(1, len(gaps) // 10), gaps


AGENT_CFG = """
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
    server s1 127.0.0.1:{srv} check inter 150 agent-check agent-port {agent} agent-inter 150
    server s2 127.0.0.1:{srv} check inter 150
    server s3 127.0.0.1:{srv} track s1
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""


def test_agent_replies_match_haproxy(launcher) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    srv = Target(Target.http(200, b"ok"))
    agent = Target(b"up\n", mode="greet")
    replies = [b"down # disk full\n", b"up\n", b"50%\n", b"drain\n", b"ready\n", b"maint\n"]
    replies += [b"ready\n", b"stopped\n", b"fail bogus\n", b"up 100%\n", b"xyz\n"]
    try:
        fe_py, fe_ha = free_port(), free_port()
        py = launcher.start(AGENT_CFG.format(srv=srv.port, agent=agent.port, fe=fe_py), fe_py)
        ha = launcher.haproxy(AGENT_CFG.format(srv=srv.port, agent=agent.port, fe=fe_ha), fe_ha)
        time.sleep(0.6)
        for reply in replies:
            agent.set("greet", reply)
            time.sleep(0.6)
        py.terminate()  # before the targets close (see above)
        ha.terminate()
        py.wait(5)
        ha.wait(5)
    finally:
        srv.close()
        agent.close()
    mine, theirs = _normalize(read_log(py)), _normalize(read_log(ha))
    assert mine == theirs
    # s3 tracks s1: the agent's maintenance and drain reach it
    assert "is going DOWN for maintenance via be/s1" in "\n".join(theirs["be/s3"])
    joined = "\n".join(theirs["be/s1"])
    for words in (
        "via agent : down (disk full)",
        "enters drain state",
        "leaving forced drain",
        "going DOWN for maintenance",
        "leaving forced maintenance",
        "via agent : stopped",
    ):
        assert words in joined


TRACK_CFG = """
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend be
    server s1 127.0.0.1:{srv} check inter 150 rise 1
    server s2 127.0.0.1:{srv} track s1
backend other
    server o1 127.0.0.1:{srv} track be/s2
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
"""


def test_track_matches_haproxy(launcher) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    srv = Target(Target.http(200, b"ok"))
    try:
        fe_py, fe_ha = free_port(), free_port()
        py = launcher.start(TRACK_CFG.format(srv=srv.port, fe=fe_py), fe_py)
        ha = launcher.haproxy(TRACK_CFG.format(srv=srv.port, fe=fe_ha), fe_ha)
        time.sleep(0.5)
        srv.set("refuse")
        time.sleep(0.8)
        srv.set("reply")
        time.sleep(0.8)
    finally:
        srv.close()
    py.terminate()
    ha.terminate()
    py.wait(5)
    ha.wait(5)
    mine, theirs = read_log(py), read_log(ha)
    assert _normalize(mine) == _normalize(theirs)
    # one check drives everything here: the counts are deterministic too
    assert _exact(mine) == _exact(theirs)
    assert "Server other/o1 is DOWN via be/s2." in theirs
