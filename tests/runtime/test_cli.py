"""The stats socket through the real process, compared with Debian's haproxy.

The same configuration (own ports and socket paths) runs in pyhaproxy and in
haproxy 2.6; every command of a script gets the same bytes back from both.
"""

from __future__ import annotations

import http.client
import re
import socket
import time

import pytest

from tests.dataplane.servers import free_port
from tests.runtime.client import cli, connect, wait_socket

CFG = """
global
    stats socket {d}/admin.sock mode 600 level admin
    stats socket {d}/oper.sock level operator
    stats socket {d}/user.sock level user
    stats socket ipv4@127.0.0.1:{cport} level admin
    stats timeout 5s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{s1} weight 10
    server s2 127.0.0.1:{s2}
backend tcpbe
    mode tcp
    server t1 127.0.0.1:{s1} disabled
"""

# commands whose answers must be equal byte for byte (state carries over)
SCRIPT = [
    "help",
    "foo",
    "shwo stat",
    "set wieght be/s1",
    "dis serv",
    "show servers foo",
    "help get",
    "help show servers",
    "get",
    "set server",
    "",
    "get weight be/s1",
    "get weight be/zz",
    "get weight zz/s1",
    "get weight be",
    "get weight",
    "get weight be/s1 extra",
    "get weight be/s1/x",
    "get weight /s1",
    "get weight #3/#1",
    "set weight be/s1 5",
    "get weight be/s1",
    "set weight be/s1 50%",
    "get weight be/s1",
    "set weight be/s1 200%",
    "get weight be/s1",
    "set weight be/s1 300",
    "set weight be/s1 -1",
    "set weight be/s1",
    "set weight be/s1 abc",
    "set weight be/s1 5x",
    "set weight be/s1 -3%",
    "set weight be/s1 0",
    "set server be/s1 weight 7",
    "set server be/s1 weight",
    "get weight be/s1",
    "set server be/s1 state drain",
    "set server be/s1 state foo",
    "set server be/s1 state",
    "set server be/s1",
    "set server be/s1 foo",
    "set server be/zz state ready",
    "set server zz/s1 state ready",
    "set server be state ready",
    "disable server be/s1",
    "disable server be/zz",
    "disable server",
    "enable server be/s1",
    "enable server tcpbe/t1",
    "set server be/s1 health down",
    "set server be/s1 health foo",
    "set server be/s1 health up",
    "set server be/s1 health stopping",
    "set server be/s1 agent up",
    "set server be/s1 state ready",
    "set server be/s1 addr",
    "set server be/s1 addr foo",
    "set server be/s1 fqdn foo",
    "show cli level",
    "operator;show cli level;user;show cli level;operator;show cli level",
    "get weight be/s1;get weight be/s2",
    "set weight be/s1 10;set server be/s1 state maint;get weight be/s1",
    "set server be/s1 state ready",
    "get weight be/s1\\;x",
    "shutdown sessions server be/s1",
    "shutdown sessions server be/zz",
    "shutdown sessions server",
    "shutdown sessions",
    "set maxconn server be/s1 10",
    "set maxconn server be/s1",
    "set maxconn server be/s1 abc",
    "set maxconn server be/s1 10x",
    "set maxconn server be",
    "set maxconn server zz/s1 3",
    "set maxconn server be/s1 0",
    "show errors zz",
    "clear counters all",
]
LEVEL_SCRIPT = [
    "show errors",
    "shutdown sessions server be/s1",
    "set maxconn server be/s1 3",
    "clear counters",
    "set weight be/s1 10",
    "get weight be/s1",
    "disable server be/s1",
    "enable server be/s1",
    "set server be/s1 state maint",
    "set server be/s1 health down",
    "show cli level",
    "operator",
    "user;operator",
]


def _pair(launcher, tmp_path, http_servers):
    """Start haproxy and pyhaproxy on the same configuration."""
    s1, s2 = (s.port for s in http_servers)
    out = {}
    for name in ("haproxy", "py"):
        d = tmp_path / name
        d.mkdir()
        cport, port = free_port(), free_port()
        cfg = CFG.format(d=d, cport=cport, port=port, s1=s1, s2=s2)
        if name == "haproxy":
            launcher.haproxy(cfg, wait=port)
        else:
            launcher.start(cfg, wait=port)
        wait_socket(str(d / "admin.sock"))
        out[name] = (d, cport, port)
    return out


def _unstamped(answer: str) -> str:
    """An answer with its dates masked (``show errors`` prints the time)."""
    return re.sub(r"\[\d\d/\w{3}/\d{4}:[\d:.]+\]", "[DATE]", answer)


def test_script_answers_as_haproxy(launcher, tmp_path, http_servers):
    pair = _pair(launcher, tmp_path, http_servers)
    for cmd in SCRIPT:
        answers = [_unstamped(cli(str(d / "admin.sock"), cmd)) for d, _, _ in pair.values()]
        assert answers[0] == answers[1], cmd
    for level in ("oper", "user"):
        for cmd in LEVEL_SCRIPT:
            answers = [_unstamped(cli(str(d / f"{level}.sock"), cmd)) for d, _, _ in pair.values()]
            assert answers[0] == answers[1], (level, cmd)


def test_show_errors_as_haproxy(launcher, tmp_path, http_servers):
    pair = _pair(launcher, tmp_path, http_servers)
    for cmd in ("show errors", "show errors be", "show errors fe request", "show errors #3"):
        answers = [cli(str(d / "admin.sock"), cmd) for d, _, _ in pair.values()]
        assert [a.split("[")[0] + a.split("]")[-1] for a in answers] == [
            "Total events captured on  : 0\n\n"
        ] * 2, cmd


def test_addr_change_answers_as_haproxy(launcher, tmp_path, http_servers):
    pair = _pair(launcher, tmp_path, http_servers)
    s1 = http_servers[0].port
    for cmd in (
        "set server be/s1 addr 127.0.0.2",
        "set server be/s1 addr 127.0.0.2 port 80",
        f"set server be/s1 addr 127.0.0.1 port {s1}",
        "set server be/s1 addr 127.0.0.1 port",
        "set server be/s1 addr 127.0.0.1 port abc",
        "set server be/s1 addr 127.0.0.1 prt 3",
    ):
        answers = [cli(str(d / "admin.sock"), cmd) for d, _, _ in pair.values()]
        assert answers[0] == answers[1], cmd


def _exchange(sock: socket.socket, data: bytes, until: bytes) -> bytes:
    sock.sendall(data)
    got = b""
    deadline = time.monotonic() + 10
    while not got.endswith(until) and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_prompt_mode_and_payload_as_haproxy(launcher, tmp_path, http_servers):
    pair = _pair(launcher, tmp_path, http_servers)
    results = []
    for d, _, _ in pair.values():
        with connect(str(d / "admin.sock")) as s:
            steps = [
                _exchange(s, b"prompt\n", b"> "),
                _exchange(s, b"get weight be/s1\n", b"> "),
                _exchange(s, b"show foo <<\n", b"+ "),
                _exchange(s, b"a b\n", b"+ "),
                _exchange(s, b"\n", b"> "),
                _exchange(s, b"prompt\n", b"\n"),
            ]
            results.append(steps)
    assert results[0][:2] == results[1][:2]
    assert results[0][2:4] == results[1][2:4] == [b"+ ", b"+ "]
    assert results[0][5] == results[1][5] == b"\n"


def test_quit_and_tcp_socket(launcher, tmp_path, http_servers):
    pair = _pair(launcher, tmp_path, http_servers)
    answers = []
    for _d, cport, _ in pair.values():
        answers.append(cli(cport, "get weight be/s2;quit;get weight be/s1"))
    assert answers[0] == answers[1] == "1 (initial 1)\n\n"


def _served_by(port: int, n: int) -> list[str]:
    names = []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        names.append(conn.getresponse().read().decode().split()[0])
        conn.close()
    return names


def test_state_changes_steer_traffic(launcher, tmp_path, http_servers):
    pair = _pair(launcher, tmp_path, http_servers)
    d, _, port = pair["py"]
    sock = str(d / "admin.sock")
    assert cli(sock, "set server be/s1 state maint") == "\n"
    assert set(_served_by(port, 4)) == {"b"}
    assert cli(sock, "set server be/s1 state ready;set server be/s2 state drain") == "\n\n"
    assert set(_served_by(port, 4)) == {"a"}
    assert cli(sock, "set server be/s2 state ready;set server be/s1 health down") == "\n\n"
    assert set(_served_by(port, 4)) == {"b"}
    assert cli(sock, "set server be/s1 health up;set weight be/s2 0") == "\n\n"
    assert set(_served_by(port, 4)) == {"a"}
    assert cli(sock, "set weight be/s2 100%;disable server be/s2") == "\n\n"
    assert set(_served_by(port, 4)) == {"a"}
    assert cli(sock, "set weight be/s1 1;enable server be/s2") == "\n\n"
    assert set(_served_by(port, 4)) == {"a", "b"}


def test_socket_mode_is_applied(launcher, tmp_path, http_servers):
    pair = _pair(launcher, tmp_path, http_servers)
    d, _, _ = pair["py"]
    assert (d / "admin.sock").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "line",
    [
        "stats socket {d}/x.sock level root",
        "stats socket {d}/x.sock mode abc",
        "stats socket {d}/x.sock mode 600 level admin expose-fd listeners",
        "stats socket {d}/x.sock expose-fd foo",
        "stats socket",
        "stats maxconn 0",
        "stats timeout 0",
        "stats foo",
    ],
)
def test_stats_lines_checked_like_haproxy(tmp_path, line):
    """``-c`` verdicts and alerts of ``stats`` lines in ``global``."""
    import os
    import re
    import subprocess

    from tests.helpers import run_pyhaproxy

    if not os.path.exists("/usr/sbin/haproxy"):
        pytest.skip("Debian's haproxy is not installed")
    cfg = tmp_path / "s.cfg"
    cfg.write_text(f"global\n    {line.format(d=tmp_path)}\n")
    ref = subprocess.run(
        ["/usr/sbin/haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=20
    )
    res = run_pyhaproxy("-c", "-f", str(cfg))
    assert res.returncode == ref.returncode, res.stderr

    def alerts(text: str) -> list[str]:
        return [re.sub(r"\(\d+\)", "", x) for x in text.splitlines() if "ALERT" in x]

    assert alerts(res.stderr)[:1] == alerts(ref.stderr)[:1]


def test_stats_timeout_closes_idle_connections(launcher, tmp_path, http_servers):
    s1, s2 = (s.port for s in http_servers)
    port = free_port()
    cfg = CFG.format(d=tmp_path, cport=free_port(), port=port, s1=s1, s2=s2)
    launcher.start(cfg.replace("stats timeout 5s", "stats timeout 1s"), wait=port)
    wait_socket(str(tmp_path / "admin.sock"))
    with connect(str(tmp_path / "admin.sock")) as s:
        assert _exchange(s, b"prompt\n", b"> ") == b"\n> "
        start = time.monotonic()
        assert s.recv(100) == b""  # closed by the server
        assert 0.5 < time.monotonic() - start < 5
