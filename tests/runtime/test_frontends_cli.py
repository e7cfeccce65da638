"""``disable|enable frontend`` and ``set maxconn frontend|global`` through the
real process: answers compared with Debian's haproxy, effects observed on
the listeners (refused connections, ``show stat`` PAUSED, connections held
at the limit and accepted once it is raised).

Debian's haproxy 2.6.12 stops (watchdog) when ``set maxconn frontend``
relaxes a full frontend's listeners, so the limits' effects are checked on
pyhaproxy alone; every answer text is compared on states haproxy survives.
"""

from __future__ import annotations

import csv
import io
import socket
import time

from tests.dataplane.servers import Background, echo_tcp
from tests.runtime.pair import same, start_pair

CFG = """
global
    stats socket {d}/admin.sock level admin
    stats socket {d}/oper.sock level operator
    stats socket {d}/user.sock level user
    maxconn 500
defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:{port_fe}
    maxconn 100
    default_backend echo
frontend fe2
    bind 127.0.0.1:{port_fe2}
    default_backend echo
frontend off
    bind 127.0.0.1:{off}
    disabled
    default_backend echo
listen li
    bind 127.0.0.1:{port_li}
    server l1 127.0.0.1:{echo}
backend echo
    server e1 127.0.0.1:{echo}
"""

SCRIPT = [
    "disable frontend",
    "disable frontend zz",
    "disable frontend echo",
    "disable frontend GLOBAL",
    "disable frontend #99",
    "disable frontend off",
    "enable frontend off",
    "enable frontend fe",
    "disable frontend fe",
    "disable frontend fe",
    "enable frontend fe",
    "enable frontend fe",
    "disable frontend #3",
    "enable frontend #3",
    "disable frontend li",
    "enable frontend li",
    "enable frontend",
    "enable frontend zz",
    "set maxconn",
    "set maxconn foo",
    "set maxconn frontend",
    "set maxconn frontend zz",
    "set maxconn frontend echo 5",
    "set maxconn frontend fe",
    "set maxconn frontend fe -1",
    "set maxconn frontend fe 50",
    "set maxconn frontend fe 60x",
    "set maxconn frontend off 10",
    "set maxconn frontend li 10",
    "set maxconn global",
    "set maxconn global 501",
    "set maxconn global 99999999",
    "set maxconn global abc",
    "set maxconn global -1",
    "set maxconn global 400",
    "set maxconn global 10x",
    "shutdown frontend",
    "shutdown frontend zz",
    "shutdown frontend echo",
    "shutdown frontend off",
    "shutdown frontend li",
    "shutdown frontend li",
    "enable frontend li",
    "disable frontend li",
    "set maxconn frontend li 20",
    "help set maxconn",
    "help disable",
    "help enable",
    "help shutdown",
]
LEVELS = [
    "shutdown frontend fe",
    "disable frontend fe",
    "enable frontend fe",
    "set maxconn frontend fe 10",
    "set maxconn global 10",
]


def _pair(launcher, tmp_path, echo):
    return start_pair(
        launcher, tmp_path, CFG, ("port_fe", "port_fe2", "port_li", "off"), echo=echo.port
    )


def _status(side, name: str) -> tuple[str, str]:
    rows = csv.reader(io.StringIO(side.cli("show stat")[2:]))
    for row in rows:
        if row[:2] == [name, "FRONTEND"]:
            return row[17], row[6]  # status, slim
    raise AssertionError(name)


def _info(side, key: str) -> str:
    for line in side.cli("show info").splitlines():
        if line.startswith(key + ": "):
            return line.split(": ", 1)[1]
    raise AssertionError(key)


def _warnings(log: str) -> list[str]:
    return [x.split(" : ", 1)[1] for x in log.splitlines() if x.startswith("[WARNING]")]


def _echoes(port: int, timeout: float = 2.0) -> bool:
    """A connection through the frontend is served (its byte echoed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"x")
            return s.recv(1) == b"x"
    except OSError:
        return False


def test_frontend_answers_as_haproxy(launcher, tmp_path):
    echo = Background(echo_tcp)
    try:
        sides = _pair(launcher, tmp_path, echo)
        same(sides, SCRIPT)
        for level in ("oper", "user"):
            same(sides, LEVELS, level=level)
        assert [_status(s, "fe") for s in sides] == [("OPEN", "60")] * 2
        assert [_status(s, "li") for s in sides] == [("STOP", "20")] * 2
        # haproxy's warnings (Paused, Resumed, Proxy ... stopped), on stderr
        logs = [_warnings(p.log_path.read_text()) for p in launcher.procs]
        assert logs[0] == logs[1]
        assert "Proxy li stopped (cumulated conns: FE: 1, BE: 1)." in logs[1]
        assert [_info(s, "Maxconn") for s in sides] == ["10"] * 2
    finally:
        echo.close()


def test_disable_frontend_refuses_connections(launcher, tmp_path):
    echo = Background(echo_tcp)
    try:
        sides = _pair(launcher, tmp_path, echo)
        for side in sides:
            port = side.ports["port_fe"]
            assert _echoes(port), side.name
            assert side.cli("disable frontend fe") == "\n"
            assert _status(side, "fe")[0] == "PAUSED", side.name
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                raise AssertionError(f"{side.name}: connected to a disabled frontend")
            except ConnectionRefusedError:
                pass
            assert _echoes(side.ports["port_fe2"]), side.name  # the others go on
            assert side.cli("enable frontend fe") == "\n"
            assert _status(side, "fe")[0] == "OPEN", side.name
            assert _echoes(port), side.name
    finally:
        echo.close()


def _held(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"x")
    return s


def _served_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b"x"
    except TimeoutError:
        return False


def test_set_maxconn_frontend_limits_the_running_listeners(launcher, tmp_path):
    echo = Background(echo_tcp)
    try:
        py = _pair(launcher, tmp_path, echo)[1]
        port = py.ports["port_fe2"]  # no maxconn of its own: the global one
        first = _held(port)
        assert _served_within(first, 2)
        assert py.cli("set maxconn frontend fe2 1") == "\n"
        assert _status(py, "fe2")[1] == "1"
        second = _held(port)  # waits in the backlog: the frontend is full
        assert not _served_within(second, 0.5)
        first.close()
        assert _served_within(second, 2)  # accepted once the first ended
        third = _held(port)
        assert not _served_within(third, 0.5)
        assert py.cli("set maxconn frontend fe2 10") == "\n"
        assert _served_within(third, 2)  # raising the limit resumes at once
        assert py.cli("set maxconn frontend fe2 0") == "\n"  # as haproxy: accepts nothing
        fourth = _held(port)
        assert not _served_within(fourth, 0.5)
        assert py.cli("set maxconn frontend fe2 10") == "\n"
        assert _served_within(fourth, 2)
        for s in (second, third, fourth):
            s.close()
    finally:
        echo.close()


def test_set_maxconn_global_limits_every_frontend(launcher, tmp_path):
    echo = Background(echo_tcp)
    try:
        py = _pair(launcher, tmp_path, echo)[1]
        first = _held(py.ports["port_fe"])
        assert _served_within(first, 2)
        assert py.cli("set maxconn global 1") == "\n"
        assert _info(py, "Maxconn") == "1"
        other = _held(py.ports["port_li"])  # another frontend: the process is full
        assert not _served_within(other, 0.5)
        assert py.cli("set maxconn global 0") == "\n"  # 0: back to the hard limit
        assert _info(py, "Maxconn") == "500"
        assert _served_within(other, 2)
        first.close()
        other.close()
        time.sleep(0.1)
        assert _echoes(py.ports["port_fe2"])
    finally:
        echo.close()


def test_shutdown_frontend_closes_its_listeners(launcher, tmp_path):
    echo = Background(echo_tcp)
    try:
        sides = _pair(launcher, tmp_path, echo)
        for side in sides:
            port = side.ports["port_fe"]
            held = _held(port)
            assert _served_within(held, 2), side.name
            assert side.cli("shutdown frontend fe") == "\n"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                raise AssertionError(f"{side.name}: connected to a stopped frontend")
            except ConnectionRefusedError:
                pass
            held.sendall(b"x")  # the stream in progress goes on
            assert _served_within(held, 2), side.name
            held.close()
            assert _status(side, "fe")[0] == "STOP", side.name
    finally:
        echo.close()
