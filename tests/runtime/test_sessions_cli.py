"""``show sess`` and ``shutdown session`` through the real process, compared
with Debian's haproxy on the same configuration and the same streams.

The fields that cannot be the same (pointers, ports, fds, ages, task
counters, HAProxy's internal flags, ``exp``: see runtime/sessions.py) are
masked; what remains -- protocol, frontend, backend, server, connector
states, which timeouts run -- must be equal.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from pyhaproxy.runtime.sessions import Epochs, _parse_ptr, human_time
from tests.dataplane.servers import Background, echo_tcp, http_app
from tests.runtime.pair import same, start_pair

CFG = """
global
    stats socket {d}/admin.sock level admin
    stats socket {d}/oper.sock level operator
    stats socket {d}/user.sock level user
defaults
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend tcpfe
    mode tcp
    bind 127.0.0.1:{port_tcp}
    default_backend echo
frontend httpfe
    mode http
    bind 127.0.0.1:{port_http}
    default_backend web
backend echo
    mode tcp
    server e1 127.0.0.1:{echo}
backend web
    mode http
    server w1 127.0.0.1:{web}
"""


@pytest.fixture
def backends():
    servers = [Background(echo_tcp), Background(http_app("w"))]
    yield servers
    for s in servers:
        s.close()


def _pair(launcher, tmp_path, backends):
    echo, web = backends
    return start_pair(
        launcher, tmp_path, CFG, ("port_tcp", "port_http"), echo=echo.port, web=web.port
    )


def _streams(side):
    """A TCP stream through the echo backend and an HTTP request the server
    is still answering (``/slow``), kept open."""
    tcp = socket.create_connection(("127.0.0.1", side.ports["port_tcp"]), timeout=5)
    tcp.sendall(b"x")
    assert tcp.recv(10) == b"x"
    http = socket.create_connection(("127.0.0.1", side.ports["port_http"]), timeout=5)
    http.sendall(b"GET /slow/3 HTTP/1.1\r\nHost: x\r\n\r\n")
    idle = socket.create_connection(("127.0.0.1", side.ports["port_http"]), timeout=5)
    time.sleep(0.3)
    return tcp, http, idle


_MASKS = [
    (r"0x[0-9a-f]+", "PTR"),
    (r"(src|source)=127\.0\.0\.1:\d+", r"\1=127.0.0.1:PORT"),
    (r"epoch=\S+", "epoch=E"),
    (r"age=\S+", "age=A"),
    (r"calls=\d+ rate=\d+", "calls=C rate=R"),
    (r"f=[0-9a-f]+h", "f=F"),
    (r"an=[0-9a-f]+h", "an=N"),
    (r"rx=\d+[smhd]", "rx=T"),
    (r"\[(\d+),[0-9a-f]+h,fd=\d+\]", r"[\1,FL,fd=FD]"),
    (r"\[(\d+),[0-9a-f]+h,fd=-1\]", r"[\1,FL,fd=-1]"),
    (r"exp=\S*", "exp=X"),
]


def _masked(line: str) -> str:
    for pat, rep in _MASKS:
        line = re.sub(pat, rep, line)
    if "fe=GLOBAL" in line:  # haproxy arms the CLI's own timeout or not, by timing
        line = line.replace("rx=T", "rx=")
    return line


def test_show_sess_lists_streams_as_haproxy(launcher, tmp_path, backends):
    sides = _pair(launcher, tmp_path, backends)
    views = []
    for side in sides:
        conns = _streams(side)
        lines = side.cli("show sess").splitlines()
        assert lines[-1] == ""  # the answer's end
        views.append(sorted(_masked(x) for x in lines if x))
        for c in conns:
            c.close()
    assert views[0] == views[1]
    # the TCP stream, the HTTP request in progress and this CLI session;
    # the idle HTTP connection carries no stream
    assert sorted(v.split(" fe=")[1].split()[0] for v in views[1]) == ["GLOBAL", "httpfe", "tcpfe"]


def _port_names(text: str, ports: dict[str, int]) -> str:
    """Ports replaced by their names (another port: ``P``)."""
    names = {port: name for name, port in ports.items()}
    return re.sub(r":(\d+)", lambda m: ":" + names.get(int(m.group(1)), "P"), text)


def test_show_sess_id_dumps_the_stream(launcher, tmp_path, backends):
    sides = _pair(launcher, tmp_path, backends)
    keep = ("frontend=", "backend=", "server=")
    dumps = []
    for side in sides:
        conns = _streams(side)
        line = next(x for x in side.cli("show sess").splitlines() if "fe=tcpfe" in x)
        ptr = line.split(":")[0]
        dump = side.cli(f"show sess {ptr}")
        assert dump.startswith(f"{ptr}: [")
        head = dump.splitlines()[0].split("] ", 1)[1]
        body = [x.strip() for x in dump.splitlines() if x.strip().startswith(keep)]
        body = [_port_names(x, side.ports) for x in body]
        dumps.append((_masked(head.replace("id=", "")).split(" ", 1)[1], body))
        assert side.cli("show sess all").count(": [") == 3
        for c in conns:
            c.close()
    assert dumps[0] == dumps[1]


SCRIPT = [
    "show sess 0x1234",
    "show sess 1234",
    "shutdown session",
    "shutdown session 0x1234",
    "shutdown session zz",
    "shutdown session -1",
    "help show sess",
    "help shutdown",
]


def test_session_errors_and_levels_as_haproxy(launcher, tmp_path, backends):
    sides = _pair(launcher, tmp_path, backends)
    same(sides, SCRIPT)
    same(sides, ["show sess", "shutdown session 0x1"], level="user")
    same(sides, ["shutdown session 0x1"], level="oper")
    for side in sides:
        assert "fe=GLOBAL" in side.cli("show sess", "oper")


def test_shutdown_session_kills_the_stream(launcher, tmp_path, backends):
    sides = _pair(launcher, tmp_path, backends)
    for side in sides:
        tcp, http, idle = _streams(side)
        line = next(x for x in side.cli("show sess").splitlines() if "fe=tcpfe" in x)
        ptr = line.split(":")[0]
        assert side.cli(f"shutdown session {ptr}") == "\n", side.name
        tcp.settimeout(5)
        assert tcp.recv(10) == b"", side.name  # closed by the proxy
        assert "fe=tcpfe" not in side.cli("show sess"), side.name
        assert side.cli(f"shutdown session {ptr}") == "No such session (use 'show sess').\n\n"
        for c in (tcp, http, idle):
            c.close()


def test_human_time():
    assert [human_time(t) for t in (0, 5, 60, 61, 3600, 3661, 86400, 90061)] == [
        "0s",
        "5s",
        "1m",
        "1m1s",
        "1h",
        "1h1m",
        "1d",
        "1d1h",
    ]


def test_session_pointer_parsing_is_strtoul():
    assert _parse_ptr("0x1f") == 31
    assert _parse_ptr("017") == 15
    assert _parse_ptr("12abc") == 12
    assert _parse_ptr("zz") == 0
    assert _parse_ptr("-1") == (1 << 64) - 1


def test_epochs_count_show_sess_runs_before_a_stream():
    ep = Epochs()
    assert ep.at(1.0) == 0
    assert ep.bump(2.0) == 0
    assert ep.bump(3.0) == 1
    assert (ep.at(1.0), ep.at(2.5), ep.at(9.0)) == (0, 1, 2)
