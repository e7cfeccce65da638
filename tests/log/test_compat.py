"""Log lines of pyhaproxy and Debian's haproxy for the same configuration and
traffic, received on a UDP socket, compared after masking what must vary
(dates, pids, ports, timer values; ``-1`` timers are kept, they tell where a
stream stopped)."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from collections.abc import Callable

import pytest

from tests.dataplane.servers import Background, echo_tcp, free_port

BODY = b"hello from the server\n"


async def app(reader, writer, stats) -> None:
    """``/`` answers, ``/slow`` waits 1.5 s, ``/close`` closes without an
    answer, ``/cut`` closes in the middle of its body."""
    while True:
        line = await reader.readline()
        if not line:
            return
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        path = line.split()[1].decode()
        if path == "/close":
            return
        if path == "/slow":
            await asyncio.sleep(1.5)
        if path == "/cut":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            await writer.drain()
            await asyncio.sleep(0.2)
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Srv: s1\r\n\r\n%s" % (len(BODY), BODY)
        )
        await writer.drain()


@pytest.fixture(scope="module")
def server():
    srv = Background(app)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def echo():
    srv = Background(echo_tcp)
    yield srv
    srv.close()


async def echo_quiet(reader, writer, stats) -> None:
    """Echo bytes, nothing more (no farewell on EOF)."""
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


@pytest.fixture(scope="module")
def quiet_echo():
    srv = Background(echo_quiet)
    yield srv
    srv.close()


# ---- masking -------------------------------------------------------------------

_SYSLOG = re.compile(r"^(<\d+>)\w{3} [ \d]\d \d\d:\d\d:\d\d (\S+ )?haproxy\[\d+\]: ")
_DATE = re.compile(r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d(\.\d{3}| [+-]\d{4})")
_ADDR = re.compile(r"127\.0\.0\.1:\d+")
_TIMERS = re.compile(r"(?<= )(-?\d+/)+-?\d+(?= \d+ )|(?<= )(-?\d+/){2,}-?\d+(?= -?\d+ )")


def _timers(m: re.Match) -> str:
    return "/".join("-1" if v == "-1" else "N" for v in m.group(0).split("/"))


def mask(line: str) -> str:
    line = _SYSLOG.sub(r"\1DATE haproxy[PID]: ", line)
    line = _DATE.sub("DATE", line)
    line = _ADDR.sub("127.0.0.1:PORT", line)
    return _TIMERS.sub(_timers, line, count=1)


# ---- running both ----------------------------------------------------------------


def run_both(
    launcher,
    receivers,
    cfg: Callable[[int, str], str],
    traffic: Callable[[int], None],
    count: int,
    masker: Callable[[str], str] = mask,
) -> tuple[list[str], list[str]]:
    """The masked lines of haproxy and pyhaproxy for ``cfg(port, log_addr)``
    and ``traffic(port)``; ``count`` messages are expected from each."""
    out = []
    for start in (launcher.haproxy, launcher.start):
        rx = receivers()
        port = free_port()
        start(cfg(port, rx.address), wait=port)
        rx.collect(0, settle=0.3)  # start-up messages, if any
        rx.lines.clear()
        traffic(port)
        out.append([masker(x) for x in rx.collect(count)])
    return out[0], out[1]


def get(port: int, path: str = "/", extra: bytes = b"", close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        conn = b"Connection: close\r\n" if close else b""
        s.sendall(
            b"GET %s HTTP/1.1\r\nHost: example.org\r\n%s%s\r\n" % (path.encode(), conn, extra)
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data


def http_cfg(body: str, defaults: str = "") -> Callable[[int, str], str]:
    def make(port: int, log: str) -> str:
        return f"""
global
    log {log} local0
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
{defaults}
frontend fe
    bind 127.0.0.1:{port}
{body}
"""

    return make


def _be(server) -> str:
    return f"""    default_backend be
backend be
    server s1 127.0.0.1:{server.port}
"""


# ---- formats ---------------------------------------------------------------------


def test_httplog_with_captures(launcher, receivers, server):
    cfg = http_cfg(
        "    option httplog\n"
        "    capture request header Host len 32\n"
        "    capture request header User-Agent len 5\n"
        "    capture response header X-Srv len 10\n" + _be(server)
    )

    def traffic(port):
        get(port, "/a?b=1", b"User-Agent: curl/8.0\r\n")

    theirs, ours = run_both(launcher, receivers, cfg, traffic, 1)
    assert theirs[0].startswith("<134>DATE haproxy[PID]: 127.0.0.1:PORT [DATE] fe be/s1 ")
    assert ours == theirs


def test_httplog_clf(launcher, receivers, server):
    cfg = http_cfg("    option httplog clf\n" + _be(server))
    clf_timers = re.compile(r'"" "" \d+ \d{3} ("[^"]*" "[^"]*" "[^"]*")((?: -?\d+){5}) ')

    def masker(line: str) -> str:
        line = mask(line)
        return clf_timers.sub(
            lambda m: (
                '"" "" PORT MS '
                + m.group(1)
                + "".join(" -1" if v == "-1" else " N" for v in m.group(2).split())
                + " "
            ),
            line,
        )

    theirs, ours = run_both(launcher, receivers, cfg, lambda p: get(p, "/x"), 1, masker)
    assert '"GET /x HTTP/1.1" 200' in theirs[0]
    assert ours == theirs


def test_tcplog(launcher, receivers, echo):
    def cfg(port, log):
        return f"""
global
    log {log} local0
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen tl
    log global
    option tcplog
    bind 127.0.0.1:{port}
    server s1 127.0.0.1:{echo.port}
"""

    def traffic(port):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"ping")
            assert s.recv(10) == b"ping"
            s.shutdown(socket.SHUT_WR)
            while s.recv(100):
                pass

    theirs, ours = run_both(launcher, receivers, cfg, traffic, 1)
    assert " tl tl/s1 N/N/N 7 -- " in theirs[0]
    assert ours == theirs


CUSTOM = (
    "%ci %cp %fi %fp %f %ft %b %s %si %sp %ST %B %U %CC %CS %ts %tsc %ac %fc %bc %sc %rc "
    "%sq %bq %r %HM %HP %HPO %HQ %HU %HV %{+Q}r %{+Q}HU %[src] %H-x "
    "%Th %Ti/%TR/%Tw/%Tc/%Tr/%Ta/%Tt %{+Q}o %b %s"
)


def test_custom_log_format(launcher, receivers, server):
    cfg = http_cfg(f'    log-format "{CUSTOM}"\n' + _be(server))
    host = socket.gethostname()

    def masker(line: str) -> str:
        line = mask(line).replace(f" {host}-x ", " HOST-x ")
        line = re.sub(r"127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+ fe", "127.0.0.1 CP 127.0.0.1 FP fe", line)
        line = re.sub(r"s1 127\.0\.0\.1 \d+ ", "s1 127.0.0.1 SP ", line)
        return re.sub(r"(?<= )(-?\d+ )(-?\d+/){6}-?\d+", _timers, line)

    theirs, ours = run_both(launcher, receivers, cfg, lambda p: get(p, "/p/q?r=s"), 1, masker)
    assert '"/p/q?r=s" 127.0.0.1 HOST-x' in theirs[0]
    assert ours == theirs


# ---- options -----------------------------------------------------------------------


def test_dontlognull(launcher, receivers, server):
    cfg = http_cfg("    option httplog\n    option dontlognull\n" + _be(server))

    def traffic(port):
        socket.create_connection(("127.0.0.1", port)).close()
        get(port, "/logged")

    theirs, ours = run_both(launcher, receivers, cfg, traffic, 1)
    assert len(theirs) == 1 and "/logged" in theirs[0]
    assert ours == theirs


def test_log_separate_errors(launcher, receivers, server):
    cfg = http_cfg(
        "    option httplog\n    option log-separate-errors\n"
        "    use_backend dead if { path /dead }\n" + _be(server) + "backend dead\n"
        f"    server s1 127.0.0.1:{free_port()}\n"
    )

    def traffic(port):
        get(port, "/ok")
        # haproxy logs once it freed the stream, which may come after the
        # client saw the close: let it, or its line counts the next connection
        time.sleep(0.2)
        get(port, "/dead")

    theirs, ours = run_both(launcher, receivers, cfg, traffic, 2)
    assert theirs[0].startswith("<134>") and theirs[1].startswith("<131>")
    assert " 503 " in theirs[1] and " SC-- " in theirs[1]
    assert ours == theirs


# ---- termination states -------------------------------------------------------------


def _send(port: int, data: bytes, wait: float = 0.0, rst: bool = False, fin: bool = False) -> bytes:
    """Send ``data``; after ``wait``, reset (``rst``) or close (``fin``) the
    connection, else read until the proxy closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if wait:
            time.sleep(wait)
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return b""
        if fin:
            return b""
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        return out


REQ = b"GET %s HTTP/1.1\r\nHost: example.org\r\n\r\n"


@pytest.mark.parametrize(
    ("state", "body", "traffic"),
    [
        (
            "cR--",
            "    timeout http-request 300ms\n",
            lambda p: _send(p, b"GET / HTTP/1.1\r\n"),
        ),
        ("CR--", "", lambda p: _send(p, b"GET / HTTP/1.1\r\nHost: x\r\n", wait=0.2, fin=True)),
        ("sH--", "", lambda p: _send(p, REQ % b"/slow")),
        ("SH--", "", lambda p: _send(p, REQ % b"/close")),
        ("SD--", "", lambda p: _send(p, REQ % b"/cut")),
        ("PR--", "    http-request deny if { path /deny }\n", lambda p: _send(p, REQ % b"/deny")),
        (
            "LR--",
            "    http-request return status 200 if { path /ret }\n",
            lambda p: _send(p, REQ % b"/ret"),
        ),
    ],
)
def test_http_termination_states(launcher, receivers, server, state, body, traffic):
    defaults = "    timeout server 300ms\n" if state == "sH--" else ""
    cfg = http_cfg("    option httplog\n" + body + _be(server), defaults)
    theirs, ours = run_both(launcher, receivers, cfg, traffic, 1)
    assert len(theirs) == 1 and f" {state} " in theirs[0], theirs
    assert ours == theirs


def test_refused_and_queue_states(launcher, receivers, server):
    """``SC``: connection refused; ``sQ``: queue timeout behind a busy server."""
    dead = free_port()
    cfg = http_cfg(
        "    option httplog\n    use_backend dead if { path /dead }\n"
        + _be(server).replace(":" + str(server.port), f":{server.port} maxconn 1")
        + f"    timeout queue 300ms\nbackend dead\n    server s1 127.0.0.1:{dead}\n"
    )

    def traffic(port):
        _send(port, REQ % b"/dead")
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(REQ % b"/slow")
        time.sleep(0.2)
        _send(port, REQ % b"/queued")
        slow.recv(1000)
        slow.close()

    theirs, ours = run_both(launcher, receivers, cfg, traffic, 3)
    states = [re.search(r" (\S\S--) ", line).group(1) for line in theirs]
    assert states[:2] == ["SC--", "sQ--"], theirs
    assert ours == theirs


@pytest.mark.parametrize(
    ("state", "timeouts", "rst"),
    [
        ("cD", "timeout client 300ms", False),
        ("sD", "timeout server 300ms", False),
        ("CD", "", True),
    ],
)
def test_tcp_termination_states(launcher, receivers, quiet_echo, state, timeouts, rst):
    def cfg(port, log):
        return f"""
global
    log {log} local0
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen tl
    log global
    option tcplog
    {timeouts}
    bind 127.0.0.1:{port}
    server s1 127.0.0.1:{quiet_echo.port}
"""

    def traffic(port):
        _send(port, b"ping", wait=0.2, rst=rst)

    theirs, ours = run_both(launcher, receivers, cfg, traffic, 1)
    assert f" {state} " in theirs[0], theirs
    assert ours == theirs


def test_rfc5424_structured_data_and_hostname(launcher, receivers, server):
    def cfg(port, log):
        return f"""
global
    log {log} format rfc5424 local1
    log-send-hostname lb1
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    log-tag edge
    log-format "%ST %B %HP"
    log-format-sd "[exampleSDID@1234 status=\\"%ST\\"]"
{_be(server)}"""

    iso = re.compile(r"^(<\d+>1) \S+ (\S+ \S+) \d+ ")

    def masker(line: str) -> str:
        return iso.sub(r"\1 DATE \2 PID ", line)

    theirs, ours = run_both(launcher, receivers, cfg, lambda p: get(p, "/sd"), 1, masker)
    assert theirs == ['<142>1 DATE lb1 edge PID - [exampleSDID@1234 status="200"] 200 79 /sd\n']
    assert ours == theirs


def test_default_format_logs_connect_line(launcher, receivers, echo):
    """Without a log format, the accept is logged (configuration.txt §8.2.1)."""

    def cfg(port, log):
        return f"""
global
    log {log} local0
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen tl
    bind 127.0.0.1:{port}
    server s1 127.0.0.1:{echo.port}
"""

    def traffic(port):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"x")
            s.recv(10)

    theirs, ours = run_both(launcher, receivers, cfg, traffic, 1)
    assert "Connect from 127.0.0.1:PORT to 127.0.0.1:PORT (tl/TCP)" in theirs[0]
    assert ours == theirs
