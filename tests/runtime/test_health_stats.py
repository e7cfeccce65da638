"""Servers' health checks as the runtime reports them, compared with Debian's
haproxy running the same configuration against the same check targets:
``show stat`` (CSV, typed, JSON), ``show servers state``, the HTML page and
the Prometheus exporter, then the runtime API commands that act on checks
(``set server health|agent|check-port|check-addr|agent-*``, ``enable|disable
health|agent``).  Values that vary with time (durations, ages) are masked.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import re
import time

import pytest

from tests.checks.servers import Target
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
    bind 127.0.0.1:{fe}
    stats enable
    stats uri /st
    stats admin if TRUE
    http-request use-service prometheus-exporter if {{ path /metrics }}
backend be
    option httpchk GET /
    server up1 127.0.0.1:{up} check inter 200
    server down1 127.0.0.1:{down} check inter 200 rise 3 fall 2
    server nochk 127.0.0.1:{up}
    server agt 127.0.0.1:{up} check inter 200 agent-check agent-port {agent} agent-inter 200 rise 3
    server agtd 127.0.0.1:{up} check inter 200 agent-check agent-port {agentd} agent-inter 200
    server mnt 127.0.0.1:{up} check inter 200 disabled
    server trk 127.0.0.1:{up} track be/up1
    server flap 127.0.0.1:{flap} check inter 400 rise 3 fall 3
"""

# the columns about checks and states; the ones that vary with time apart
CHECK_COLUMNS = [
    "svname",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "qlimit",
    "tracked",
    "check_status",
    "check_code",
    "hanafail",
    "last_chk",
    "last_agt",
    "agent_status",
    "agent_code",
    "check_desc",
    "agent_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_rise",
    "agent_fall",
    "agent_health",
    "uweight",
]
TIMED = ("lastchg", "downtime", "check_duration", "agent_duration")


@pytest.fixture
def targets():
    made = {
        "up": Target(Target.http(200), "reply"),
        "down": Target(mode="refuse"),
        "agent": Target(b"up 50%\n", "greet"),
        "agentd": Target(b"down # maintenance\n", "greet"),
        "flap": Target(Target.http(200), "reply"),
    }
    yield made
    for t in made.values():
        t.close()


@pytest.fixture
def pair(launcher, tmp_path, targets):
    """haproxy and pyhaproxy on the same configuration and targets:
    name -> (socket path, stats port)."""
    out = {}
    for name in ("haproxy", "py"):
        d = tmp_path / name
        d.mkdir()
        fe = free_port()
        cfg = CFG.format(d=d, fe=fe, **{k: t.port for k, t in targets.items()})
        (launcher.haproxy if name == "haproxy" else launcher.start)(cfg, wait=fe)
        wait_socket(str(d / "admin.sock"))
        out[name] = (str(d / "admin.sock"), fe)
    for sock, _ in out.values():
        _settle(sock)
    return out


def _rows(sock: str, cmd: str = "show stat") -> list[dict[str, str]]:
    text = cli(sock, cmd)
    assert text.startswith("# "), text
    rows = list(csv.reader(io.StringIO(text[2:])))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r]


def _server(sock: str, name: str) -> dict[str, str]:
    return next(r for r in _rows(sock) if r["pxname"] == "be" and r["svname"] == name)


def _settle(sock: str, timeout: float = 8.0) -> None:
    """Until every check has run: the up server checked, the refused one
    DOWN, the agent's reply applied."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = {r["svname"]: r for r in _rows(sock) if r["pxname"] == "be"}
        if (
            rows["up1"]["check_status"].lstrip("* ") == "L7OK"
            and rows["down1"]["status"] == "DOWN"
            and rows["agt"]["last_agt"] == "via agent : up"
            and rows["flap"]["status"] == "UP"
            and rows["agtd"]["status"] == "DOWN (agent)"
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"checks did not settle: {rows}")


def _same(pair: dict, view, timeout: float = 3.0):
    """``view(socket)`` of pyhaproxy and haproxy, once they agree: a check
    may be running in one of them (its status shows "* L7OK", its last
    description is empty meanwhile, as HAProxy's), so a difference must
    last to count.  Returns pyhaproxy's view."""
    (ha, _), (py, _) = pair["haproxy"], pair["py"]
    deadline = time.monotonic() + timeout
    while True:
        mine, theirs = view(py), view(ha)
        if mine == theirs or time.monotonic() > deadline:
            assert mine == theirs
            return mine
        time.sleep(0.05)


def _be(sock: str) -> list[dict[str, str]]:
    return [_stable(r) for r in _rows(sock) if r["pxname"] == "be"]


def _stable(row: dict[str, str]) -> dict[str, str]:
    out = {k: row[k] for k in CHECK_COLUMNS}
    for k in ("check_status", "agent_status"):
        out[k] = out[k].removeprefix("* ")  # a check in progress
    for k in TIMED:
        out[k] = "N" if row[k] != "" else ""  # present or not, not its value
    return out


def _state_lines(sock: str, backend: str = "be") -> list[list[str]]:
    """``show servers state`` fields; the age masked, and the "check in
    progress" bit of the check states."""
    lines = cli(sock, f"show servers state {backend}").splitlines()
    assert lines[0] == "1" and lines[1].startswith("# be_id")
    out = []
    for line in lines[2:]:
        if line:
            w = line.split(" ")
            w[9] = "*"
            w[13], w[14] = str(int(w[13]) & ~1), str(int(w[14]) & ~1)
            out.append(w)
    return out


def test_check_columns_as_haproxy(pair):
    """show stat: status words ("no check", "MAINT", "UP"...), the check
    and agent columns of each server, the backend's chkdown."""
    py = pair["py"][0]
    _same(pair, _be)
    rows = {r["svname"]: r for r in _rows(py) if r["pxname"] == "be"}
    names = ("up1", "down1", "nochk", "agt", "agtd", "mnt", "trk")
    assert [rows[s]["status"] for s in names] == [
        "UP",
        "DOWN",
        "no check",
        "UP",
        "DOWN (agent)",
        "MAINT",
        "UP",
    ]
    assert rows["agtd"]["last_agt"] == "via agent : down (maintenance)"
    assert rows["down1"]["check_status"] == "L4CON"
    assert rows["down1"]["last_chk"] == "Connection refused"
    assert rows["down1"]["check_desc"] == "Layer4 connection problem"
    assert rows["up1"]["check_code"] == "200"
    assert rows["agt"]["agent_status"].removeprefix("* ") == "L7OK"
    assert rows["trk"]["tracked"] == "be/up1"
    assert int(rows["down1"]["downtime"]) >= 0 and rows["down1"]["chkdown"] == "1"


def test_typed_and_json_check_fields_as_haproxy(pair):
    """The same fields in ``show stat typed`` and ``json``: positions, tags
    and types as HAProxy's."""
    wanted = set(CHECK_COLUMNS) | set(TIMED)

    def typed(sock: str) -> list:
        out = []
        for line in cli(sock, "show stat typed").splitlines():
            if not line.startswith("S."):
                continue
            head, tags, typ, value = line.split(":", 3)
            field = head.split(".")[4]
            if field in wanted:
                if field in TIMED:
                    value = "N"
                out.append((head, tags, typ, value.removeprefix("* ")))
        return out

    def objs(sock: str) -> list:
        out = []
        for obj in json.loads(cli(sock, "show stat json")):
            for f in obj:
                if f["objType"] == "Server" and f["field"]["name"] in wanted:
                    v = f["value"]
                    value = "N" if f["field"]["name"] in TIMED else v["value"]
                    if isinstance(value, str):
                        value = value.removeprefix("* ")
                    out.append((f["id"], f["field"], f["tags"], v["type"], value))
        return out

    assert any(t[0].endswith(".check_status.1") for t in _same(pair, typed))
    assert any(o[1]["name"] == "agent_health" for o in _same(pair, objs))


def test_servers_state_check_fields_as_haproxy(pair):
    """srv_check_status/result/health/state, srv_agent_state, the check and
    agent ports and addresses."""
    lines = _same(pair, _state_lines)
    agt = next(w for w in lines if w[3] == "agt")
    assert agt[10:15] == ["15", "3", "5", "6", "22"]  # L7OK, passed, 5, enabled, agent


def test_transitions_as_haproxy(pair, targets):
    """A server going down then up passes through HAProxy's "UP 2/3",
    "UP 1/3", "DOWN 1/3", "DOWN 2/3": the same statuses in both."""
    seen: dict[str, list[str]] = {name: [] for name in pair}

    def watch(until: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        done = set()
        while time.monotonic() < deadline and len(done) < len(pair):
            for name, (sock, _) in pair.items():
                status = _server(sock, "flap")["status"]
                if not seen[name] or seen[name][-1] != status:
                    seen[name].append(status)
                if status == until:
                    done.add(name)
            time.sleep(0.03)

    targets["flap"].set("refuse")
    watch("DOWN")
    targets["flap"].set("reply")
    watch("UP")
    expected = ["UP", "UP 2/3", "UP 1/3", "DOWN", "DOWN 1/3", "DOWN 2/3", "UP"]
    assert seen["haproxy"] == expected
    assert seen["py"] == expected


def _cells(page: str) -> list[tuple[str, list[str]]]:
    """(row class, Server-group cells) of every row; ages, durations masked."""
    page = re.sub(r"<div class=tips><table.*?</table></div>", "", page, flags=re.S)
    out = []
    for m in re.finditer(r'<tr class="([a-z_]+)">(.*?)</tr>', page):
        cells = re.findall(r"<td[^>]*>.*?</td>", m.group(2))
        if len(cells) < 9:  # a header row
            continue
        tail = " ".join(cells[-9:])
        tail = re.sub(r"\b\d+[dhms](\d+[hms])?\b", "T", tail)  # human_time
        tail = re.sub(r" in \d+ms", " in Nms", tail).replace("<u> * ", "<u> ")
        out.append((m.group(1), cells[:2] + [tail]))
    return out


def _get(port: int, target: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", target)
    resp = conn.getresponse()
    assert resp.status == 200
    return resp.read().decode("latin-1")


def test_html_server_columns_and_admin_form_as_haproxy(pair):
    """The page's Status (age and state), LastChk (``L7OK/200 in 0ms``),
    Wght, Chk/Dwn/Dwntme cells, row colours, the admin checkboxes and the
    action select."""
    ports = {sock: port for sock, port in pair.values()}
    _same(pair, lambda sock: _cells(_get(ports[sock], "/st")))
    pages = {name: _get(port, "/st") for name, (_, port) in pair.items()}
    forms = {n: re.findall(r"Choose the action.*?</form>", p) for n, p in pages.items()}
    assert forms["py"] == forms["haproxy"] and len(forms["py"]) == 1
    cells = dict((c[1][1], c) for c in _cells(pages["py"]))
    down = next(v for k, v in cells.items() if ">down1<" in k)
    assert down[0] == "active_down" and "L4CON in Nms" in down[1][2]
    assert "<i>no check</i>" in next(v for k, v in cells.items() if ">nochk<" in k)[1][2]
    assert 'value="up1"' in pages["py"]


def _prom(port: int) -> list[str]:
    keep = re.compile(
        r"^haproxy_(server_check_(status|code|duration_seconds|failures_total|up_down_total)"
        r"|server_downtime_seconds_total|backend_agg_check_status|backend_check_up_down_total"
        r"|server_status|backend_agg_server_status)\b"
    )
    out = []
    for line in _get(port, "/metrics").splitlines():
        if keep.match(line.removeprefix("# HELP ").removeprefix("# TYPE ")):
            if "duration_seconds{" in line or "downtime_seconds_total{" in line:
                line = line.rsplit(" ", 1)[0] + " N"
            out.append(line)
    return out


def test_prometheus_check_metrics_as_haproxy(pair):
    ports = {sock: port for sock, port in pair.values()}
    mine = _same(pair, lambda sock: _prom(ports[sock]))
    assert 'haproxy_server_check_status{proxy="be",server="down1",state="L4CON"} 1' in mine
    assert 'haproxy_server_check_code{proxy="be",server="up1"} 200' in mine


COMMANDS = [
    "set server be/up1 agent up",
    "set server be/agt agent",
    "set server be/agt agent down",
    "set server be/trk health up",
    "set server be/nochk health down",
    "set server be/nochk health up",
    "set server be/nochk check-port 80",
    "set server be/up1 check-port",
    "set server be/up1 check-port abc",
    "set server be/up1 check-port 99999",
    "set server be/up1 check-addr",
    "set server be/up1 check-addr foo.invalid",
    "set server be/nochk agent-addr 127.0.0.1",
    "set server be/agt agent-addr",
    "set server be/agt agent-port",
    "set server be/agt agent-port x",
    "set server be/nochk agent-port 1",
    "set server be/nochk agent-send x",
    "set server be/up1 agent-send x",
    "set server be/up1 health bogus",
    "enable health be/nochk",
    "enable agent be/up1",
    "disable health be/nochk",
    "disable agent be/up1",
    "disable health be/zz",
    "disable health",
    "set server be/agt agent up",
    "set server be/nochk health stopping",
    "disable health be/mnt",
    "clear counters all",  # chkfail, chkdown from 0 again
]


def test_set_server_check_commands_as_haproxy(pair):
    (ha, _), (py, _) = pair["haproxy"], pair["py"]
    for cmd in COMMANDS:
        assert cli(py, cmd) == cli(ha, cmd), cmd
    _same(pair, _be)
    _same(pair, _state_lines)
    assert _server(py, "nochk")["status"] == "NOLB"


def test_check_port_and_addr_move_the_check(pair, targets):
    """``set server check-port`` sends the next checks elsewhere: to a
    refused port the server goes DOWN (L4CON); ``check-addr ... port`` brings
    it back; ``show servers state`` shows the port and address set."""
    down, up = targets["down"].port, targets["up"].port
    for sock, _ in pair.values():
        assert cli(sock, f"set server be/up1 check-port {down}") == "\n"
    for sock, _ in pair.values():
        _wait(sock, "up1", "DOWN")
        assert _server(sock, "up1")["check_status"].removeprefix("* ") == "L4CON"
    for sock, _ in pair.values():
        assert cli(sock, f"set server be/up1 check-addr 127.0.0.1 port {up}") == "\n"
    for sock, _ in pair.values():
        _wait(sock, "up1", "UP")
    up1 = next(w for w in _same(pair, _state_lines) if w[3] == "up1")
    assert up1[21:23] == [str(up), "127.0.0.1"]


def test_disable_health_and_agent_as_haproxy(pair):
    """``disable health``: "no check", the check columns empty, then a
    forced DOWN stays; ``disable agent``: the agent's columns go and its
    "down" no longer holds the server; enabling brings them back."""
    (ha, _), (py, _) = pair["haproxy"], pair["py"]

    def same(cmd: str) -> None:
        _same(pair, _be)
        _same(pair, _state_lines)

    for cmd in ("disable health be/up1", "disable agent be/agtd", "set server be/up1 health down"):
        assert cli(py, cmd) == cli(ha, cmd), cmd
        same(cmd)
    assert _server(py, "up1")["status"] == "DOWN" and _server(py, "up1")["check_status"] == ""
    assert _server(py, "agtd")["agent_status"] == ""
    for cmd in ("enable health be/up1", "enable agent be/agtd"):
        assert cli(py, cmd) == cli(ha, cmd), cmd
    for sock, _ in pair.values():
        _wait(sock, "up1", "UP")
    same("enabled again")
    assert _server(py, "agtd")["status"] == "DOWN (agent)"


def _wait(sock: str, server: str, status: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _server(sock, server)["status"] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{server} not {status}: {_server(sock, server)}")


def test_agent_send_changes_what_the_agent_receives(launcher, tmp_path):
    """``set server agent-send``: the agent's next connections get the new
    string (pyhaproxy alone: the target sees one process's checks)."""
    agent = Target(b"up\n", "reply")
    srv = Target(Target.http(200), "reply")
    try:
        d = tmp_path
        cfg = (
            f"global\n    stats socket {d}/admin.sock level admin\n"
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n"
            "    timeout server 5s\nbackend be\n"
            f"    server a 127.0.0.1:{srv.port} agent-check agent-port {agent.port} "
            "agent-inter 100 agent-send hello\n"
        )
        launcher.start(cfg)
        wait_socket(str(d / "admin.sock"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(b"hello" in s for _, s in agent.seen):
            time.sleep(0.05)
        assert any(b"hello" in s for _, s in agent.seen)
        assert cli(str(d / "admin.sock"), "set server be/a agent-send bye") == "\n"
        start = time.monotonic()
        deadline = start + 5
        while time.monotonic() < deadline and not any(
            t > start and s.startswith(b"bye") for t, s in agent.seen
        ):
            time.sleep(0.05)
        assert any(t > start and s.startswith(b"bye") for t, s in agent.seen)
    finally:
        agent.close()
        srv.close()
