"""``balance rdp-cookie[(NAME)]`` with ``tcp-request inspect-delay`` and
``tcp-request content accept if RDP_COOKIE`` (configuration.txt §4.2),
the real pyhaproxy process against Debian's haproxy: the same servers for
RDP connection requests (sent in two writes, so the rules must wait),
through a server going down and back; ``reject``; the inspect-delay
expiring; an unimplemented tcp-request action refused at start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from pyhaproxy.lb.base import LbSettings
from pyhaproxy.lb.hashes import sdbm
from pyhaproxy.lb.keys import rdp_cookie_key
from tests.dataplane.servers import free_port
from tests.lb.compare import DEFAULTS, cli

SERVERS = ["a weight 3", "b", "c weight 2", "d weight 5 id 9", "e"]


def pdu(cookie: bytes | None, name: bytes = b"mstshash") -> bytes:
    """An X.224 Connection Request as mstsc sends it (TPKT, X.224 header,
    the routing cookie line, an RDP negotiation request)."""
    body = b""
    if cookie is not None:
        body = b"Cookie: " + name + b"=" + cookie + b"\r\n"
    body += b"\x01\x00\x08\x00\x03\x00\x00\x00"
    x224 = bytes([6 + len(body), 0xE0, 0, 0, 0, 0, 0]) + body
    return b"\x03\x00" + (4 + len(x224)).to_bytes(2, "big") + x224


def test_cookie_extraction():
    key = rdp_cookie_key(LbSettings(param="mstshash"))
    assert key(None, pdu(b"alice")) == sdbm(b"alice")
    assert key(None, pdu(b"alice", b"MSTSHASH")) == sdbm(b"alice")  # any case
    assert key(None, pdu(b"alice").replace(b"Cookie: ", b"cookie:   ")) == sdbm(b"alice")
    assert key(None, pdu(None)) is None
    assert key(None, pdu(b"")) is None  # empty: round robin
    assert key(None, pdu(b"alice")[:30]) is None  # incomplete
    assert key(None, pdu(b"bob", b"other")) is None
    assert key(None, pdu(b"alice").replace(b"\r\n", b"\n")) is None
    other = rdp_cookie_key(LbSettings(param="user"))
    assert other(None, pdu(b"bob", b"user")) == sdbm(b"bob")


COOKIES = [b"alice", b"bob", b"carol", None, b"dave", b"Administrator", b"eve", b"u1", b"", b"u22"]


class NameServers:
    """One TCP server per name, answering its name and closing."""

    def __init__(self, names: list[str]) -> None:
        self.ports: dict[str, int] = {}
        self.socks = []
        for name in names:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            s.listen(64)
            self.ports[name] = s.getsockname()[1]
            self.socks.append(s)
            threading.Thread(target=self._serve, args=(s, name), daemon=True).start()

    @staticmethod
    def _serve(s: socket.socket, name: str) -> None:
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            with c:
                c.sendall(name.encode())

    def close(self) -> None:
        for s in self.socks:
            s.close()


def ask(port: int, data: bytes, split: int = 9) -> str:
    """The name the server answered for one connection sending ``data``
    (its first ``split`` bytes, then the rest 50 ms later); "<closed>" when
    the proxy closed without a server."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data[:split])
        if split < len(data):
            time.sleep(0.05)
            try:
                s.sendall(data[split:])
            except OSError:
                return "<closed>"
        out = b""
        try:
            while chunk := s.recv(100):
                out += chunk
        except ConnectionResetError:
            pass
    return out.decode() or "<closed>"


def steps() -> list:
    """(payload | command) steps: 48 connections, b down and back."""
    reqs = [pdu(COOKIES[(i * 3) % len(COOKIES)]) for i in range(48)]
    return (
        reqs[:16]
        + ["disable server be/b"]
        + reqs[16:32]
        + ["enable server be/b", "set weight be/c 0"]
        + reqs[32:40]
        + ["set weight be/c 100%"]
        + reqs[40:]
    )


CLASSIC = "    tcp-request inspect-delay 5s\n    tcp-request content accept if RDP_COOKIE\n"


def run_both(launcher, tmp_path, balance: str, rules: str, steps: list, listen: bool = False):
    """The answers of haproxy and of pyhaproxy to ``steps`` (payloads,
    or (payload, split) pairs, or stats socket commands)."""
    names = [s.split()[0] for s in SERVERS]
    srv = NameServers(names)
    results = []
    try:
        for which in ("haproxy", "pyhaproxy"):
            port = free_port()
            sock = str(tmp_path / f"{which}.sock")
            lines = [f"global\n    stats socket {sock} level admin\n{DEFAULTS}"]
            if listen:
                lines.append(
                    f"listen be\n    mode tcp\n    bind 127.0.0.1:{port}\n{rules}{balance}"
                )
            else:
                lines.append(
                    f"frontend fe\n    mode tcp\n    bind 127.0.0.1:{port}\n{rules}"
                    "    default_backend be\n"
                )
                lines.append(f"backend be\n    mode tcp\n{balance}")
            for spec in SERVERS:
                name, _, opts = spec.partition(" ")
                lines.append(f"    server {name} 127.0.0.1:{srv.ports[name]} {opts}\n")
            # wait on a port of its own: a probe of the TCP frontend would
            # take a round-robin turn
            probe = free_port()
            lines.append(f"listen probe\n    mode tcp\n    bind 127.0.0.1:{probe}\n")
            if which == "haproxy":
                launcher.haproxy("".join(lines), wait=probe)
            else:
                launcher.start("".join(lines), wait=probe)
            deadline = time.monotonic() + 10
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            out = []
            for step in steps:
                if isinstance(step, str):
                    cli(sock, step)
                elif isinstance(step, tuple):
                    out.append(ask(port, *step))
                else:
                    out.append(ask(port, step))
            results.append(out)
    finally:
        srv.close()
    return results[0], results[1]


@pytest.mark.parametrize("hash_type", ["map-based", "consistent", "map-based crc32 avalanche"])
@pytest.mark.parametrize("cookie", ["rdp-cookie", "rdp-cookie(mstshash)"])
def test_choice_matches_haproxy(launcher, tmp_path, hash_type, cookie):
    balance = f"    balance {cookie}\n    hash-type {hash_type}\n"
    ha, py = run_both(launcher, tmp_path, balance, CLASSIC, steps())
    assert ha == py
    assert "b" not in py[16:32] and "c" not in py[32:40]
    assert "<closed>" not in py


def test_listen_section_as_in_the_documentation(launcher, tmp_path):
    """configuration.txt's example: everything in one ``listen`` section;
    cookie names of another case, a named cookie, a cookie-less request."""
    reqs = [pdu(c) for c in COOKIES * 2] + [pdu(b"alice", b"MSTSHASH"), pdu(b"x", b"other")]
    ha, py = run_both(
        launcher,
        tmp_path,
        "    balance rdp-cookie\n",
        CLASSIC,
        reqs[:12] + ["disable server be/a"] + reqs[12:],
        listen=True,
    )
    assert ha == py
    assert "a" not in py[12:]


def test_reject_closes_and_delay_expiry_decides(launcher, tmp_path):
    """``reject`` closes the connection; an incomplete request decides
    when the inspect-delay expires (no cookie there: round robin)."""
    rules = (
        "    tcp-request inspect-delay 300ms\n"
        "    tcp-request content reject if { req.rdp_cookie(mstshash) -m str evil }\n"
        "    tcp-request content reject if { req.rdp_cookie_cnt(other) eq 1 }\n"
        "    tcp-request content accept if RDP_COOKIE\n"
    )
    reqs = [
        pdu(b"alice"),
        pdu(b"evil"),
        pdu(b"bob"),
        pdu(b"x", b"other"),
        (pdu(b"carol")[:15], 15),  # never completed: decided at the delay
        pdu(b"evil", b"MSTSHASH"),
        (b"\x03\x00", 2),
        pdu(None),
        pdu(b"dave"),
    ]
    ha, py = run_both(launcher, tmp_path, "    balance rdp-cookie\n", rules, reqs)
    assert ha == py
    assert py[1] == py[3] == py[5] == "<closed>"
    assert "<closed>" not in py[:1] + py[2:3] + py[4:5] + py[6:]


def test_unimplemented_tcp_request_action_is_refused_with_its_line(tmp_path):
    cfg = tmp_path / "c.cfg"
    cfg.write_text(
        "defaults\n  mode tcp\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n"
        f"frontend f\n  bind 127.0.0.1:{free_port()}\n  tcp-request inspect-delay 5s\n"
        "  tcp-request content set-var(sess.x) req.len\n  tcp-request content accept if RDP_COOKIE\n"
        "  default_backend b\n"
        "backend b\n  balance rdp-cookie\n  server s 127.0.0.1:1\n"
    )
    run = [sys.executable, "-m", "pyhaproxy", "-f", str(cfg)]
    check = subprocess.run([*run, "-c"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0
    assert f"[{cfg}:9]" in check.stderr and "not implemented yet" in check.stderr
    start = subprocess.run([*run, "-db"], capture_output=True, text=True, timeout=30)
    assert start.returncode == 1
    assert f"[{cfg}:9]" in start.stderr
    assert "'tcp-request content set-var(sess.x)' is not implemented yet by pyhaproxy" in (
        start.stderr
    )
    assert "rdp-cookie" not in start.stderr  # the algorithm itself is served
