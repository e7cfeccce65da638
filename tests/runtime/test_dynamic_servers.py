"""``add server`` and ``del server`` through the real process: answers
compared with Debian's haproxy, and traffic reaching a server added at run
time once it leaves maintenance, under each dynamic balancer."""

from __future__ import annotations

import http.client
import re
import time

import pytest

from tests.dataplane.servers import Background, http_app
from tests.runtime.pair import same, start_pair, unported

CFG = """
global
    stats socket {d}/admin.sock level admin
    stats socket {d}/oper.sock level operator
    stats socket {d}/user.sock level user
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance {balance}
    server s1 127.0.0.1:{a} weight 10
    server s2 127.0.0.1:{a}
backend bmap
    balance source
    server m1 127.0.0.1:{a}
backend bstatic
    balance static-rr
    server r1 127.0.0.1:{a}
backend bch
    balance source
    hash-type consistent
    server c1 127.0.0.1:{a}
backend bfirst
    balance first
    server f1 127.0.0.1:{a}
backend bempty
    balance random
"""

SCRIPT = [
    "add server",
    "add server be",
    "add server be/",
    "add server /x 127.0.0.1:1",
    "add server zz/x 127.0.0.1:1",
    "add server fe/x 127.0.0.1:1",
    "add server be/s1 127.0.0.1:1",
    "add server be/s1",
    "add server be/new",
    "add server be/#3 127.0.0.1:1",
    "add server be/x/y 127.0.0.1:1",
    "add server be/new 127.0.0.1:1 foo",
    "add server be/new 127.0.0.1:1 cookie x",
    "add server be/new 127.0.0.1:1 redir http://x",
    "add server be/new 127.0.0.1:1 weight 300",
    "add server be/new 127.0.0.1:1 rise 0",
    "add server be/new 127.0.0.1:1 inter",
    "add server be/new 127.0.0.1:1 inter 0",
    "add server be/new 127.0.0.1:1 id 0",
    "add server be/new 127.0.0.1:1 id abc",
    "add server be/new 127.0.0.1:1 id 2",
    "add server be/new 127.0.0.1:1-5",
    "add server be/new 127.0.0.1:99999",
    "add server be/new 127.0.0.1:abc",
    "add server be/new fd@3",
    "add server be/new 127.0.0.1: check",
    "add server be/new 127.0.0.1:+1 check",
    "add server be/new 127.0.0.1:1 agent-check",
    "add server be/new 127.0.0.1:1 agent-check agent-port 0",
    "add server bmap/new 127.0.0.1:1",
    "add server bstatic/new 127.0.0.1:1",
    "add server bch/new 127.0.0.1:1",
    "add server bfirst/new 127.0.0.1:1",
    "add server bempty/new 127.0.0.1:1",
    "add server be/new 127.0.0.1:1 weight 5 maxconn 10 maxqueue 5",
    "add server be/new 127.0.0.1:2",
    "get weight be/new",
    "add server be/n2 127.0.0.1:1 id 50",
    "add server be/n3 127.0.0.1:1 id 50",
    "add server be/n4 127.0.0.1:1 backup",
    "add server be/n5 127.0.0.1:1 enabled",
    "add server be/n6 127.0.0.1:1 weight",
    "add server be/n7 127.0.0.1:+1",
    "add server be/n8 127.0.0.1:1 check inter 2s rise 3 fall 2",
    "add server be/n9 127.0.0.1:1 agent-check agent-port 5555",
    "show servers state be",
    "del server",
    "del server be",
    "del server zz/new",
    "del server be/zz",
    "del server be/n5",
    "del server be/new",
    "del server be/new",
    "del server be/s2",
    "set server be/s2 state maint",
    "del server be/s2",
    "add server be/s2 127.0.0.1:1",
    "show servers state be",
    "help add server",
    "help del server",
]
LEVELS = ["add server be/x 127.0.0.1:1", "del server be/s1"]


@pytest.fixture
def webs():
    servers = [Background(http_app("a")), Background(http_app("b"))]
    yield servers
    for s in servers:
        s.close()


def _pair(launcher, tmp_path, webs, balance="roundrobin"):
    a, b = webs
    return start_pair(launcher, tmp_path, CFG, ("port",), a=a.port, balance=balance)


def _state_mask(text, side):
    """``show servers state`` without its time-since-change column."""
    out = []
    text = re.sub(r"at \S+\.cfg:", "at CFG:", text)  # each side's own file name
    for line in unported(text, side).splitlines():
        f = line.split(" ")
        if len(f) > 10 and f[0].isdigit():
            f[9] = "T"
            if f[3] == "n8":
                # srv_check_state of a check not enabled yet, in maintenance:
                # haproxy 2 (configured), runtime/health.py adds PAUSED (8)
                # whether or not the check is enabled
                f[13] = str(int(f[13]) & ~8)
        out.append(" ".join(f))
    return "\n".join(out)


def test_add_and_del_server_answers_as_haproxy(launcher, tmp_path, webs):
    sides = _pair(launcher, tmp_path, webs)
    same(sides, SCRIPT, mask=_state_mask)
    for level in ("oper", "user"):
        same(sides, LEVELS, level=level)


def _served_by(port: int, n: int) -> list[str]:
    names = []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        names.append(conn.getresponse().read().decode().split()[0])
        conn.close()
    return names


@pytest.mark.parametrize("balance", ["roundrobin", "leastconn", "random", "first"])
def test_added_server_takes_traffic_once_ready(launcher, tmp_path, webs, balance):
    py = _pair(launcher, tmp_path, webs, balance)[1]
    port = py.ports["port"]
    b = webs[1].port
    weight = "weight 10" if balance != "first" else "id 1"
    if balance == "first":  # "first" takes the lowest id: free id 1 for it
        assert py.cli("set server be/s1 state maint;del server be/s1") == "\nServer deleted.\n"
    assert py.cli(f"add server be/new 127.0.0.1:{b} {weight}") == "New server registered.\n\n"
    assert set(_served_by(port, 6)) == {"a"}  # in maintenance
    assert py.cli("enable server be/new") == "\n"
    served = _served_by(port, 20)
    assert "b" in served
    if balance == "first":
        assert set(served) == {"b"}
    assert py.cli("del server be/new") == "Only servers in maintenance mode can be deleted.\n"
    assert py.cli("set server be/new state maint;del server be/new") == "\nServer deleted.\n"
    assert set(_served_by(port, 6)) == {"a"}
    assert py.cli("get weight be/new") == "No such server.\n\n"
    # the name and the id can be taken again; added ready ("enabled"), the
    # server is taken in by the balancer on its first state change only, as
    # haproxy 2.6 does (test_dynamic_lb.py)
    added = py.cli(f"add server be/new 127.0.0.1:{b} enabled {weight}")
    assert added == "New server registered.\n\n"
    assert set(_served_by(port, 6)) == {"a"}
    assert py.cli("disable server be/new;enable server be/new") == "\n\n"
    assert "b" in _served_by(port, 20)


def test_del_server_refuses_a_server_in_use(launcher, tmp_path, webs):
    py = _pair(launcher, tmp_path, webs)[1]
    port = py.ports["port"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert py.cli("set server be/s2 state maint") == "\n"
    conn.request("GET", "/slow/2")  # s1 serves it for two seconds
    time.sleep(0.3)
    assert py.cli("set server be/s1 state maint") == "\n"
    answer = py.cli("del server be/s1")
    assert answer == "Server still has connections attached to it, cannot remove it.\n"
    assert conn.getresponse().status == 200
    conn.close()
    time.sleep(0.2)
    assert py.cli("del server be/s1") == "Server deleted.\n"
