"""``stats admin if|unless <cond>``: the stats page's admin form and its
POST, compared with Debian's haproxy byte for byte (the 303 redirect and
its ``st=`` code), then the servers' state read back over the stats socket.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.checks.servers import Target
from tests.dataplane.conftest import read_log
from tests.dataplane.servers import free_port
from tests.runtime.client import cli, wait_socket

CFG = """
global
    stats socket {d}/admin.sock level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen stats
    bind 127.0.0.1:{admin}
    stats enable
    stats uri /st
    stats refresh 5s
    stats admin if {{ src 127.0.0.0/8 }}
listen denied
    bind 127.0.0.1:{denied}
    stats uri /st
    stats admin unless TRUE
listen plain
    bind 127.0.0.1:{plain}
    stats uri /st
backend be
    option httpchk GET /
    server up1 127.0.0.1:{up} check inter 200
    server down1 127.0.0.1:{down} check inter 200
    server nochk 127.0.0.1:{up}
    server agt 127.0.0.1:{up} check inter 200 agent-check agent-port {agent} agent-inter 3s
    server trk 127.0.0.1:{up} track be/up1
"""


@pytest.fixture
def pair(launcher, tmp_path):
    targets = {
        "up": Target(Target.http(200), "reply"),
        "down": Target(mode="refuse"),
        "agent": Target(b"up\n", "greet"),
    }
    out = {}
    try:
        for name in ("haproxy", "py"):
            d = tmp_path / name
            d.mkdir()
            ports = {"admin": free_port(), "denied": free_port(), "plain": free_port()}
            cfg = CFG.format(d=d, **ports, **{k: t.port for k, t in targets.items()})
            start = launcher.haproxy if name == "haproxy" else launcher.start
            proc = start(cfg, wait=list(ports.values()))
            wait_socket(str(d / "admin.sock"))
            out[name] = (str(d / "admin.sock"), ports, proc)
        for sock, _, _ in out.values():
            _wait(sock, "down1", "DOWN")
            _wait(sock, "up1", "UP")
        yield out
    finally:
        for t in targets.values():
            t.close()


def _status(sock: str) -> dict[str, str]:
    text = cli(sock, "show stat")
    header = text[2:].split("\n", 1)[0].split(",")
    out = {}
    for line in text.splitlines()[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == "be" and row["svname"] != "BACKEND":
            out[row["svname"]] = row["status"]
    return out


def _wait(sock: str, server: str, status: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _status(sock).get(server) == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{server} not {status}: {_status(sock)}")


def _post(port: int, body: bytes, uri: str = "/st", close: bool = False, split: bool = False):
    """A form POST; the raw answer head.  ``split``: the body comes in two
    parts after the head, as a slow client sends it."""
    head = (
        f"POST {uri} HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n"
        f"content-length: {len(body)}\r\n" + ("connection: close\r\n" if close else "") + "\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        if split:
            s.sendall(head)
            time.sleep(0.1)
            s.sendall(body[:3])
            time.sleep(0.1)
            s.sendall(body[3:])
        else:
            s.sendall(head + body)
        out = b""
        while b"\r\n\r\n" not in out:
            data = s.recv(65536)
            if not data:
                break
            out += data
    return out


CASES = [
    (b"s=down1&action=drain&b=be", {}),
    (b"s=down1&s=zzz&action=ready&b=be", {}),
    (b"action=ready&b=be", {}),
    (b"s=up1&action=bogus&b=be", {}),
    (b"s=up1&action=ready&b=nobe", {}),
    (b"s=nochk&action=dhlth&b=%233", {}),
    (b"s=zzz&action=dhlth&b=be", {}),
    (b"s=up1&action=ready&b=be", {"uri": "/st;up;norefresh"}),
    (b"s=up1&action=ready&b=be", {"close": True}),
    (b"s=up1&action=ready&b=be", {"split": True}),
    (b"s=up1&" * 4000 + b"action=ready&b=be", {}),
    (b"x=" + b"a" * 3000 + b"&s=up1&action=ready&b=be", {}),
]


def test_post_answers_as_haproxy(pair):
    """Every outcome: DONE, PART, NONE, ERRP (unknown action, backend or
    servers, a parameter too long), EXCD (a body larger than the buffer),
    with ``;up`` kept in the Location, and DENY where ``stats admin`` does
    not match or is not configured."""
    ha, py = pair["haproxy"][1], pair["py"][1]
    codes = []
    for body, opts in CASES:
        theirs = _post(ha["admin"], body, **opts)
        assert _post(py["admin"], body, **opts) == theirs, (body[:40], opts)
        codes.append(re.search(rb"st=(\w+)", theirs).group(1).decode())
    assert set(codes) == {"DONE", "PART", "NONE", "ERRP", "EXCD"}
    for which in ("denied", "plain"):
        theirs = _post(ha[which], b"s=up1&action=maint&b=be")
        assert b"location: /st;st=DENY\r\n" in theirs
        assert _post(py[which], b"s=up1&action=maint&b=be") == theirs
    assert _status(pair["py"][0])["up1"] == "UP"  # denied: nothing changed


# the health check is disabled while its health is forced: a check passing
# in between would bring the server UP in one process and not the other
ACTIONS = [
    ("up1", "dhlth", "no check"),
    ("up1", "hdown", "DOWN"),
    ("up1", "hnolb", "NOLB"),
    ("up1", "hrunn", "no check"),
    ("up1", "hdown", "DOWN"),
    ("up1", "ehlth", None),
    ("agt", "adown", "DOWN (agent)"),
    ("agt", "dagent", None),
    ("agt", "eagent", None),  # UP meanwhile: its health check passed
    ("agt", "arunn", "UP"),
    ("nochk", "drain", "DRAIN"),
    ("nochk", "maint", "MAINT"),
    ("nochk", "ready", "no check"),
    ("trk", "hdown", None),  # a tracking server's health is not its own: NONE
    ("nochk", "shutdown", "no check"),
]


def test_actions_change_servers_as_haproxy(pair):
    """Each action of the form, then the server's status over the socket,
    the same in both; the messages say "changed from Web interface"."""
    for srv, action, status in ACTIONS:
        body = f"s={srv}&action={action}&b=be".encode()
        for name, (_sock, ports, _) in pair.items():
            answer = _post(ports["admin"], body)
            assert answer.startswith(b"HTTP/1.1 303 See Other\r\n"), (name, answer)
            assert re.search(rb"location: /st;st=(DONE|NONE)\r\n", answer), (name, answer)
        deadline = time.monotonic() + 3  # a check may be deciding in one of them
        while True:
            got = {name: _status(sock)[srv] for name, (sock, _, _) in pair.items()}
            if got["py"] == got["haproxy"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert got["py"] == got["haproxy"], (srv, action, got)
        if status is not None:
            assert got["py"] == status, (srv, action)
    logs = {}
    for name, (_, _, proc) in pair.items():
        lines = re.findall(r"Server be/\S+ is \S+, changed from Web interface\.", read_log(proc))
        logs[name] = lines
    assert logs["py"] == logs["haproxy"]
    assert "Server be/up1 is DOWN, changed from Web interface." in logs["py"]


def _page(port: int, uri: str = "/st") -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {uri} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
        out = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            out += data
    return out.decode("latin-1")


def test_admin_form_only_where_the_condition_matches(pair):
    """The admin page has the checkboxes, the action select and the
    backend's id in a hidden field; the other pages have none of it.  The
    message box after a redirect (``;st=DONE``...) is HAProxy's."""
    for name, (_, ports, _) in pair.items():
        admin = _page(ports["admin"])
        assert '<form method="post">' in admin, name
        assert '<input class=\'be-checkbox\' type="checkbox" name="s" value="up1">' in admin
        assert '<option value="hdown">Health: force DOWN</option>' in admin
        for which in ("denied", "plain"):
            assert '<form method="post">' not in _page(ports[which]), (name, which)
    ha, py = pair["haproxy"][1], pair["py"][1]
    for code in ("DONE", "PART", "NONE", "DENY", "ERRP", "EXCD", "UNKN", "XYZ"):
        boxes = [
            re.findall(r"<p><div class=\w+>.*?</div>\n?", _page(p["admin"], f"/st;st={code}"))
            for p in (ha, py)
        ]
        assert boxes[0] == boxes[1] and len(boxes[1]) == (code != "XYZ"), code
    forms = [re.findall(r"Choose the action.*?</form>", _page(p["admin"])) for p in (ha, py)]
    assert forms[0] == forms[1]
