"""``show stat``, ``show info``, ``show servers state``, ``show backend`` and
``clear counters`` compared with Debian's haproxy after the same traffic.

Columns whose values depend on timing or on the exact bytes each proxy
writes (rates, times, byte counts, limits derived from ulimit) are masked.
"""

from __future__ import annotations

import csv
import http.client
import io
import socket
import time

from tests.dataplane.servers import free_port
from tests.runtime.client import cli, wait_socket

CFG = """
global
    stats socket {d}/admin.sock level admin
    stats socket {d}/user.sock level user
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
frontend tfe
    mode tcp
    bind 127.0.0.1:{tport}
    default_backend tcpbe
backend be
    server s1 127.0.0.1:{s1} weight 10
    server s2 127.0.0.1:{s2} backup
    server s3 127.0.0.1:{s2} disabled
backend tcpbe
    mode tcp
    server t1 127.0.0.1:{s1}
listen li
    bind 127.0.0.1:{lport}
    server x 127.0.0.1:{s2} id 7 maxconn 5
defaults named
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend b2
    id 20
    server t1 127.0.0.1:{s1}
backend b3
    server t1 127.0.0.1:{s1}
"""

MASKED = {
    "scur",  # a TCP session may still be closing
    "smax",
    "slim",
    "bin",
    "bout",
    "lastchg",
    "lastsess",
    "rate",
    "rate_max",
    "req_rate",
    "req_rate_max",
    "conn_rate",
    "conn_rate_max",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "qtime_max",
    "ctime_max",
    "rtime_max",
    "ttime_max",
    "need_conn_est",
    "srv_icur",  # idle server connections: pool policies differ
    "idle_conn_cur",
    "h1_open_connections",
    "h1_bytes_in",
    "h1_bytes_out",
}


def _start_pair(launcher, tmp_path, http_servers):
    s1, s2 = (s.port for s in http_servers)
    out = {}
    for name in ("haproxy", "py"):
        d = tmp_path / name
        d.mkdir()
        ports = {"port": free_port(), "tport": free_port(), "lport": free_port()}
        cfg = CFG.format(d=d, s1=s1, s2=s2, **ports)
        if name == "haproxy":
            launcher.haproxy(cfg, wait=ports["port"])
        else:
            launcher.start(cfg, wait=ports["port"])
        wait_socket(str(d / "admin.sock"))
        out[name] = (d, ports)
    return out


def _traffic(ports: dict[str, int]) -> None:
    for method in ("GET", "GET", "GET", "POST"):
        conn = http.client.HTTPConnection("127.0.0.1", ports["port"], timeout=5)
        conn.request(method, "/", body=b"abc" if method == "POST" else None)
        conn.getresponse().read()
        conn.close()
    with socket.create_connection(("127.0.0.1", ports["tport"]), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        while s.recv(65536):
            pass


def _table(text: str) -> tuple[list[str], list[dict[str, str]]]:
    assert text.startswith("# ") and text.endswith(",\n\n")
    rows = list(csv.reader(io.StringIO(text[2:])))
    header = rows[0]
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:] if r]


def _masked(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: ("*" if k in MASKED else v) for k, v in r.items()} for r in rows]


def test_show_stat_as_haproxy(launcher, tmp_path, http_servers):
    pair = _start_pair(launcher, tmp_path, http_servers)
    tables = {}
    for name, (d, ports) in pair.items():
        _traffic(ports)
        tables[name] = {
            level: _table(cli(str(d / f"{level}.sock"), "show stat")) for level in ("admin", "user")
        }
    for level in ("admin", "user"):
        (h1, r1), (h2, r2) = tables["haproxy"][level], tables["py"][level]
        assert h1 == h2
        for a, b in zip(_masked(r1), _masked(r2), strict=True):
            # the server address columns differ only by the proxies' own ports
            assert a == b, {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def test_show_stat_filters_as_haproxy(launcher, tmp_path, http_servers):
    pair = _start_pair(launcher, tmp_path, http_servers)
    for cmd in (
        "show stat be 4 -1",
        "show stat -1 1 -1",
        "show stat 4 2 -1",
        "show stat #4 2 -1",
        "show stat zz 1 -1",
        "show stat be",
        "show stat li 4 7",
    ):
        answers = []
        for d, _ in pair.values():
            text = cli(str(d / "admin.sock"), cmd)
            answers.append(text if not text.startswith("#") else _masked(_table(text)[1]))
        assert answers[0] == answers[1], cmd


def test_servers_state_backend_and_clear_as_haproxy(launcher, tmp_path, http_servers):
    pair = _start_pair(launcher, tmp_path, http_servers)
    script = [
        "show servers state",
        "show servers state be",
        "show servers state zz",
        "show backend",
        "set server be/s1 state drain;set server li/x health down;show servers state",
        "set server be/s1 weight 3;enable server be/s3;show servers state be",
        "set server be/s1 health stopping;show servers state be",
        "clear counters",
    ]
    for cmd in script:
        answers = []
        for d, _ in pair.values():
            text = cli(str(d / "admin.sock"), cmd)
            # srv_time_since_last_change (10th field) varies with time
            answers.append(
                "\n".join(
                    " ".join(w if i != 9 else "*" for i, w in enumerate(line.split(" ")))
                    for line in text.split("\n")
                )
            )
        assert answers[0] == answers[1], cmd
    for level in ("user",):
        for cmd in ("clear counters", "clear counters all", "show backend"):
            answers = [cli(str(d / f"{level}.sock"), cmd) for d, _ in pair.values()]
            assert answers[0] == answers[1], cmd


def test_clear_counters_all_resets(launcher, tmp_path, http_servers):
    pair = _start_pair(launcher, tmp_path, http_servers)
    d, ports = pair["py"]
    _traffic(ports)
    sock = str(d / "admin.sock")
    _, rows = _table(cli(sock, "show stat"))
    assert int(rows[0]["stot"]) >= 4 and rows[0]["hrsp_2xx"] == "4"
    assert cli(sock, "clear counters all") == "\n"
    _, rows = _table(cli(sock, "show stat"))
    assert all(r["stot"] in ("0", "") for r in rows)
    assert rows[0]["hrsp_2xx"] == "0"


def test_clear_counters_all_keeps_open_sessions(launcher, tmp_path, http_servers):
    """``scur`` counts what is open: ``clear counters all`` leaves it, and
    the session closing afterwards brings it back to 0, as HAProxy's."""
    pair = _start_pair(launcher, tmp_path, http_servers)

    def scur(sock: str) -> dict[str, str]:
        _, rows = _table(cli(sock, "show stat"))
        return {
            f"{r['# pxname'] if '# pxname' in r else r['pxname']}/{r['svname']}": r["scur"]
            for r in rows
            if r.get("# pxname", r.get("pxname")) in ("tfe", "tcpbe")
        }

    seen = []
    for d, ports in pair.values():
        sock = str(d / "admin.sock")
        with socket.create_connection(("127.0.0.1", ports["tport"]), timeout=5) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.recv(65536).startswith(b"HTTP/1.")  # the session is open
            assert cli(sock, "clear counters all") == "\n"
            during = scur(sock)
        for _ in range(50):
            after = scur(sock)
            if set(after.values()) == {"0"}:
                break
            time.sleep(0.05)
        seen.append((during, after))
    assert seen[0] == seen[1]
    assert seen[1][0]["tcpbe/BACKEND"] == "1" and seen[1][1]["tcpbe/BACKEND"] == "0"


def test_show_info_as_haproxy(launcher, tmp_path, http_servers):
    pair = _start_pair(launcher, tmp_path, http_servers)
    infos = []
    for d, _ in pair.values():
        text = cli(str(d / "user.sock"), "show info")
        assert text.endswith("\n\n")
        infos.append([line.split(": ", 1) for line in text.strip("\n").split("\n")])
    assert [k for k, _ in infos[0]] == [k for k, _ in infos[1]]
    py = dict(infos[1])
    assert py["Name"] == "HAProxy" and py["Unstoppable Jobs"] == "0"
    assert py["Listeners"] == dict(infos[0])["Listeners"]


def test_typed_and_json_keys_as_haproxy(launcher, tmp_path, http_servers):
    import json

    pair = _start_pair(launcher, tmp_path, http_servers)
    keys = {}
    for name, (d, ports) in pair.items():
        _traffic(ports)
        sock = str(d / "admin.sock")
        keys[name] = {
            cmd: [line.rsplit(":", 1)[0] for line in cli(sock, cmd).splitlines()]
            for cmd in ("show stat typed", "show info typed")
        }
        info = json.loads(cli(sock, "show info json"))
        keys[name]["info json"] = [(e["field"], e["tags"]) for e in info]
    assert keys["haproxy"] == keys["py"]
