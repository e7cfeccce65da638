"""Protocol checks and check rule details through the real process,
compared with Debian's haproxy: every ``option *-chk`` / ``*-check`` against
a server that answers right and one that answers wrong, and tcp-check /
http-check rule sets whose failures name their step.

With ``option log-health-checks`` every first result is reported, so the
words of passing checks are compared too (``info: "5.7.1-log"`` ...).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.checks.servers import Target
from tests.checks.test_compat import _normalize
from tests.dataplane.conftest import read_log
from tests.dataplane.servers import free_port

pytestmark = pytest.mark.skipif(
    not Path("/usr/sbin/haproxy").exists(), reason="Debian's haproxy is not installed"
)

HEAD = """
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 400ms
    option log-health-checks
frontend fe
    bind 127.0.0.1:{fe}
    default_backend {first}
"""


def _mysql(payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


# option line, then (mode, reply) of a good and of a bad server
PROTOCOLS = {
    "redis": ("option redis-check", ("reply", b"+PONG\r\n"), ("reply", b"-ERR denied\r\n")),
    "smtp": (
        "option smtpchk EHLO checker.example",
        ("script", [b"220 mail.example ESMTP\r\n", None, b"250 mail.example hello\r\n", None]),
        ("script", [b"554 no service here\r\n"]),
    ),
    "smtpbanner": (
        "option smtpchk",
        ("script", [b"220 ok\r\n", None, b"502 not here\r\n", None]),
        ("greet", b"hello there\r\n"),
    ),
    "mysql": (
        "option mysql-check",
        ("greet", _mysql(b"\x0a5.7.1-log\x00" + b"\x01" * 20 + b"\x00")),
        ("greet", _mysql(b"\xff\x6a\x04Host 'x' is not allowed to connect")),
    ),
    "pgsql": (
        "option pgsql-check user haproxy",
        ("reply", bytes.fromhex("520000000800000000")),
        ("reply", b"E\x00\x00\x00\x20SFATAL\x00Mrole does not exist\x00\x00"),
    ),
    "ldap": (
        "option ldap-check",
        ("reply", bytes.fromhex("300c02010161070a010004000400")),
        ("reply", bytes.fromhex("300c02010161070a013104000400")),
    ),
    "sslhello": (
        "option ssl-hello-chk",
        ("reply", b"\x16\x03\x01\x00\x04\x0e\x00\x00\x00"),
        ("reply", b"HTTP/1.0 400 Bad Request\r\n\r\n"),
    ),
}


def _protocol_cfg(ports: dict[str, tuple[int, int]], fe: int) -> str:
    out = HEAD.format(fe=fe, first="redis")
    for name, (option, _good, _bad) in PROTOCOLS.items():
        good, bad = ports[name]
        out += f"backend {name}\n    {option}\n"
        out += f"    server good 127.0.0.1:{good} check inter 200 rise 1 fall 1\n"
        out += f"    server bad 127.0.0.1:{bad} check inter 200 rise 1 fall 1\n"
    return out


def _run_both(launcher, make_cfg, seconds: float, during=None) -> tuple[dict, dict, str]:
    fe_py, fe_ha = free_port(), free_port()
    py = launcher.start(make_cfg(fe_py), wait=fe_py)
    ha = launcher.haproxy(make_cfg(fe_ha), wait=fe_ha)
    time.sleep(seconds)
    if during is not None:
        during()
        time.sleep(seconds)
    for p in (py, ha):
        p.terminate()
        p.wait(5)
    theirs = read_log(ha)
    mine, norm = _normalize(read_log(py)), _normalize(theirs)
    for key in sorted(set(mine) | set(norm)):
        if mine.get(key) != norm.get(key):  # shown when the test fails
            print(f"--- {key}\nmine:   {mine.get(key)}\ntheirs: {norm.get(key)}")
    return mine, norm, theirs


def test_protocol_checks_match_haproxy(launcher) -> None:
    targets = {}
    for name, (_option, good, bad) in PROTOCOLS.items():
        targets[name] = (Target(good[1], good[0]), Target(bad[1], bad[0]))
    try:
        ports = {name: (g.port, b.port) for name, (g, b) in targets.items()}
        mine, theirs, raw = _run_both(launcher, lambda fe: _protocol_cfg(ports, fe), 1.2)
    finally:
        for g, b in targets.values():
            g.close()
            b.close()
    assert mine == theirs
    # every backend produced words for both servers
    for name in PROTOCOLS:
        assert f"{name}/good" in theirs and f"{name}/bad is DOWN" in raw, name


STEPS_CFG = """
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 300ms
frontend fe
    bind 127.0.0.1:{fe}
    default_backend steps
backend steps
    option tcp-check
    option log-health-checks
    tcp-check comment "greeting"
    tcp-check connect
    tcp-check expect rstring ^HELLO
    tcp-check send-binary 50494e470d0a comment "binary ping"
    tcp-check expect binary 504f4e47 comment "binary pong"
    tcp-check connect port {second} comment "second port"
    tcp-check send QUIT\\r\\n
    tcp-check expect ! string ERR
    server hang 127.0.0.1:{hang} check inter 200 rise 1 fall 1
    server wrongbin 127.0.0.1:{wrongbin} check inter 200 rise 1 fall 1
    server full 127.0.0.1:9 check inter 200 rise 1 fall 1 port {full}
backend http
    option httpchk
    http-check connect
    http-check send meth GET uri /status ver HTTP/1.1 hdr Host check.example
    http-check expect ! rstatus ^5
    http-check expect rstring ^up
    server h1 127.0.0.1:{refused} check inter 200 rise 1 fall 1
    server h2 127.0.0.1:9 check inter 200 rise 1 fall 1 port {web2}
    server h3 127.0.0.2:{web3} check inter 200 rise 1 fall 1 addr 127.0.0.1
    server h4 127.0.0.1:{web} check inter 200 rise 1 fall 1
"""


def test_rule_steps_and_http_rules_match_haproxy(launcher) -> None:
    """Failures at each step of a tcp-check (a timeout while expecting,
    wrong binary, the second connect refused, a negated string matched)
    and an http-check rule set (negated rstatus, rstring on the body) with
    the servers' ``addr`` and ``port``: the same words as haproxy, "at step
    N of tcp-check" included, and the configured request on the wire."""
    second = Target(b"OK\r\n")
    web = Target(Target.http(200, b"up and running"))
    web2 = Target(Target.http(503, b"up?", "Service Unavailable"))
    web3 = Target(Target.http(200, b"down"))
    targets = {
        "hang": Target(mode="hang"),
        "wrongbin": Target([b"HELLO\r\n", None, b"PANG\r\n"], "script"),
        "full": Target([b"HELLO\r\n", None, b"PONG\r\n"], "script"),
    }
    refused = Target(mode="refuse")
    ports = {name: t.port for name, t in targets.items()}

    def cfg(fe: int) -> str:
        return STEPS_CFG.format(
            fe=fe,
            second=second.port,
            web=web.port,
            web2=web2.port,
            web3=web3.port,
            refused=refused.port,
            **ports,
        )

    def later() -> None:  # the second connection: "ERR", then refused
        second.set("reply", b"ERR\r\n")
        time.sleep(1.0)
        second.set("refuse")

    try:
        mine, theirs, raw = _run_both(launcher, cfg, 1.0, later)
    finally:
        for t in (second, web, web2, web3, refused, *targets.values()):
            t.close()
    assert mine == theirs
    for words in (
        'reason: Layer7 timeout, info: " at step 3 of tcp-check (expect regex)"',
        "TCPCHK did not match content (binary) at step 5 comment: binary pong",
        "Connection refused at step 6 of tcp-check (connect port",
        "TCPCHK matched unwanted content 'ERR' at step 8",
        "Layer7 wrong status, code: 503",
        "HTTP content check did not match",
    ):
        assert words in raw, words
    # the configured request, sent to each server's check address and port
    for t in (web, web2, web3):
        assert {line for _, line in t.seen} == {b"GET /status HTTP/1.1"}
