"""What the workers of a generation share (DESIGN.md "Process model";
pyhaproxy/master/share.py): server state from checks and from the runtime
API, counters summed over the workers, the state a replacement worker
starts from.  Real ``pyhaproxy -W`` processes, ``nbthread 2``; each test
opens many new connections, which SO_REUSEPORT spreads over both workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.checks.servers import Target
from tests.dataplane.conftest import wait_port
from tests.dataplane.servers import Background, free_port, http_app
from tests.master.conftest import TIMEOUTS, Master, cli, get, wait_for, worker_pids
from tests.master.test_runtime_api import info, talk

HAPROXY = "/usr/sbin/haproxy"
TRIES = 40  # new connections: all on one worker with odds 2**-39


def share_cfg(port: int, stats: Path, a: int, b: int, chk: int, nbthread: int = 2) -> str:
    """s1 and s2 serve; s2's check goes to ``chk`` (a Target the test switches)."""
    return f"""global
    nbthread {nbthread}
    stats socket {stats} mode 600 level admin
{TIMEOUTS}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    option httpchk GET /chk
    server s1 127.0.0.1:{a}
    server s2 127.0.0.1:{b} check port {chk} inter 100 rise 1 fall 1
"""


def served(port: int, n: int = TRIES) -> set[str]:
    """Which servers answered ``n`` requests, each on a new connection."""
    names = set()
    for _ in range(n):
        status, body = get(port)
        assert status == 200, (status, body)
        names.add(body.split()[0].decode())
    return names


def status_of(text: str, server: str) -> str:
    """A server's status column in ``show stat`` CSV."""
    head, *rows = [line.split(",") for line in text.splitlines() if line]
    col = head.index("status")
    for row in rows:
        if row[1] == server:
            return row[col]
    raise AssertionError(f"no row for {server} in {text!r}")


def stat_rows(text: str) -> dict[str, dict[str, str]]:
    head, *rows = [line.split(",") for line in text.splitlines() if line]
    head[0] = head[0].removeprefix("# ")
    return {f"{r[0]}/{r[1]}": dict(zip(head, r, strict=False)) for r in rows}


def settled(master: Master, server: str, status: str) -> None:
    """Wait until both workers show ``server`` with ``status`` (the owner
    publishes a check's result at the end of its loop iteration)."""

    def both() -> bool:
        return all(status_of(cli(master.sock, f"@{n} show stat"), server) == status for n in (1, 2))

    wait_for(both, timeout=10, what=f"{server} {status} in both workers")


def both_say(master: Master, command: str, pred) -> None:
    """``command`` answered by worker 1 and by worker 2 satisfies ``pred``."""
    for n in (1, 2):
        got = cli(master.sock, f"@{n} {command}")
        assert pred(got), (n, got)


@pytest.fixture
def backends():
    a, b = Background(http_app("a")), Background(http_app("b"))
    chk = Target(Target.http(200, b"ok"))
    yield a, b, chk
    chk.close()
    a.close()
    b.close()


def test_check_down_seen_by_both_workers(master, port, tmp_path, backends):
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    master.start(share_cfg(port, stats, a.port, b.port, chk.port), wait=port)
    wait_for(lambda: len(chk.seen) >= 2, what="checks")
    assert served(port) == {"a", "b"}
    chk.set("refuse")
    wait_for(lambda: "Server be/s2 is DOWN" in master.text(), what="s2 DOWN")
    settled(master, "s2", "DOWN")
    assert served(port) == {"a"}
    # the stats socket, whichever worker accepts: the check columns too
    # (the kernel may hand many accepts in a row to one worker: ask until
    # both answered, a bounded number of times)
    pids = set()
    for _ in range(100):
        if len(pids) == 2:
            break
        pids.add(int(info(talk(stats, "show info\n"))["Pid"]))
        rows = stat_rows(talk(stats, "show stat\n"))
        assert rows["be/s2"]["status"] == "DOWN"
        assert rows["be/s2"]["check_status"] == "L4CON"
    assert len(pids) == 2, pids
    chk.set("reply")
    wait_for(lambda: "Server be/s2 is UP" in master.text(), what="s2 UP")
    settled(master, "s2", "UP")
    assert served(port) == {"a", "b"}
    # one message per change: the owner's, not one per worker
    assert master.text().count("Server be/s2 is DOWN") == 1


def test_state_set_through_stats_socket_applies_in_both_workers(master, port, tmp_path, backends):
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    master.start(share_cfg(port, stats, a.port, b.port, chk.port), wait=port)
    assert talk(stats, "set server be/s1 state maint\n") == "\n"
    # answered once every worker has it: no delay needed
    assert served(port) == {"b"}
    both_say(master, "show stat", lambda t: status_of(t, "s1") == "MAINT")
    assert talk(stats, "set server be/s1 state ready\n") == "\n"
    assert served(port) == {"a", "b"}
    assert talk(stats, "set weight be/s2 0\n") == "\n"
    assert served(port) == {"a"}
    both_say(master, "get weight be/s2", lambda t: t == "0 (initial 1)\n\n")
    # through the master CLI, to worker 2: worker 1 (the check owner) too
    assert cli(master.sock, "@2 set server be/s2 weight 1") == "\n"
    assert cli(master.sock, "@2 disable server be/s1") == "\n"
    assert served(port) == {"b"}
    assert cli(master.sock, "@1 enable server be/s1") == "\n"
    assert served(port) == {"a", "b"}
    # a forced health goes to the owner, whose next check decides again
    assert cli(master.sock, "@2 set server be/s2 health down") == "\n"
    wait_for(lambda: "Server be/s2 is UP" in master.text(), what="s2 UP by its check")
    settled(master, "s2", "UP")
    assert served(port) == {"a", "b"}
    # the address: every worker sends s1's traffic to b's port now
    got = talk(stats, f"set server be/s1 addr 127.0.0.1 port {b.port}\n")
    assert f"port changed from '{a.port}' to '{b.port}'" in got, got
    assert served(port) == {"b"}


def counts(stats: Path) -> dict[str, dict[str, str]]:
    return stat_rows(talk(stats, "show stat\n"))


def test_counters_summed_over_workers(master, port, tmp_path, backends):
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    master.start(share_cfg(port, stats, a.port, b.port, chk.port), wait=port)
    before = counts(stats)["fe/FRONTEND"]
    n = TRIES
    assert served(port, n) == {"a", "b"}
    for _ in range(4):  # whichever worker answers: the totals
        rows = counts(stats)
        fe = rows["fe/FRONTEND"]
        assert int(fe["stot"]) - int(before["stot"]) == n
        # the connection that waited for the port came before the requests
        assert int(fe["req_tot"]) - int(before["req_tot"]) == n
        assert int(fe["hrsp_2xx"]) == n
        assert int(rows["be/BACKEND"]["stot"]) == n
        assert int(rows["be/s1"]["lbtot"]) + int(rows["be/s2"]["lbtot"]) == n
        assert int(rows["be/s1"]["stot"]) + int(rows["be/s2"]["stot"]) == n
        assert int(rows["be/BACKEND"]["bout"]) > 0
    # typed and JSON: the same totals
    typed = talk(stats, "show stat typed\n")
    line = next(x for x in typed.splitlines() if x.startswith("F.") and ".req_tot." in x)
    assert int(line.rsplit(":", 1)[1]) - int(before["req_tot"]) == n
    dump = json.loads(talk(stats, "show stat json\n"))
    fe_req = [f for row in dump for f in row if f["objType"] == "Frontend"]
    got = next(f for f in fe_req if f["field"]["name"] == "req_tot")["value"]["value"]
    assert got - int(before["req_tot"]) == n
    # show info: the process's totals, from either worker
    for w in (1, 2):
        got = info(cli(master.sock, f"@{w} show info"))
        assert int(got["CumReq"]) >= n, got
        assert got["Process_num"] == str(w) and got["Nbthread"] == "2"


@pytest.mark.skipif(not shutil.which(HAPROXY), reason="haproxy is not installed")
def test_counters_as_haproxy(tmp_path, backends):
    """The same traffic through haproxy -W nbthread 2: the same totals."""
    a, b, chk = backends
    results = []
    for exe, name in (([HAPROXY], "ref"), (None, "ours")):
        d = tmp_path / name
        d.mkdir()
        port = free_port()
        m = Master(d)
        try:
            m.start(share_cfg(port, d / "stats.sock", a.port, b.port, chk.port), exe=exe)
            wait_port(port, m.proc, timeout=20)
            wait_for(lambda d=d: (d / "stats.sock").exists(), what="stats socket")
            served(port, TRIES)
            rows = counts(d / "stats.sock")
            results.append(
                {
                    k: {f: rows[k][f] for f in ("stot", "req_tot", "hrsp_2xx", "lbtot")}
                    for k in ("fe/FRONTEND", "be/BACKEND")
                }
                | {"servers": int(rows["be/s1"]["lbtot"]) + int(rows["be/s2"]["lbtot"])}
            )
        finally:
            m.stop()
    ref, ours = results
    assert ours == ref


def test_replaced_worker_starts_from_the_current_state(master, port, tmp_path, backends):
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    master.start(share_cfg(port, stats, a.port, b.port, chk.port), wait=port)
    assert talk(stats, "set weight be/s1 5\n") == "\n"
    chk.set("refuse")
    wait_for(lambda: "Server be/s2 is DOWN" in master.text(), what="s2 DOWN")
    settled(master, "s2", "DOWN")
    for victim in (1, 2):  # the check owner, then the other one
        old = int(info(cli(master.sock, f"@{victim} show info"))["Pid"])
        os.kill(old, signal.SIGKILL)
        wait_for(
            lambda old=old: (
                old not in worker_pids(master.sock)[0] and len(worker_pids(master.sock)[0]) == 2
            ),
            what="a replacement worker",
        )
        wait_for(lambda v=victim: "Pid" in cli(master.sock, f"@{v} show info"), what="it serves")
        got = cli(master.sock, f"@{victim} show stat")
        assert status_of(got, "s2") == "DOWN", got
        assert cli(master.sock, f"@{victim} get weight be/s1") == "5 (initial 1)\n\n"
        assert served(port) == {"a"}
    # the new owner checks: s2 comes back, reported once, in both workers
    chk.set("reply")
    wait_for(lambda: "Server be/s2 is UP" in master.text(), what="s2 UP")
    settled(master, "s2", "UP")
    assert served(port) == {"a", "b"}
    assert master.text().count("Server be/s2 is DOWN") == 1


def test_reload_moves_the_checks_to_the_new_workers(master, port, tmp_path, backends):
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    cfg = share_cfg(port, stats, a.port, b.port, chk.port)
    master.start(cfg, wait=port)
    wait_for(lambda: len(chk.seen) >= 2, what="checks")
    # requests in flight keep old workers soft-stopping for a while: their
    # checks stop, the new generation's run
    slow = [threading.Thread(target=get, args=(port, "/slow/4", 10)) for _ in range(8)]
    for t in slow:
        t.start()
    time.sleep(0.3)
    assert "Success=1" in master.reload()
    assert worker_pids(master.sock)[1], "no old worker soft-stopping"
    start = len(chk.seen)
    time.sleep(1.0)
    # inter 100: about ten checks a second, not twenty
    assert 5 <= len(chk.seen) - start <= 13, len(chk.seen) - start
    assert worker_pids(master.sock)[1], "the old workers left too early for this test"
    for t in slow:
        t.join()
    wait_for(lambda: not worker_pids(master.sock)[1], what="old workers gone")
    start = len(chk.seen)
    time.sleep(1.0)
    assert 5 <= len(chk.seen) - start <= 13, len(chk.seen) - start
    chk.set("refuse")
    wait_for(lambda: "Server be/s2 is DOWN" in master.text(), what="s2 DOWN")
    settled(master, "s2", "DOWN")


def test_stats_page_and_prometheus_report_totals(master, port, tmp_path, backends):
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    page = free_port()
    cfg = (
        share_cfg(port, stats, a.port, b.port, chk.port)
        + f"""
frontend st
    bind 127.0.0.1:{page}
    stats uri /stats
    http-request use-service prometheus-exporter if {{ path /metrics }}
"""
    )
    master.start(cfg, wait=port)
    wait_port(page, master.proc)
    before = stat_rows(get(page, "/stats;csv")[1].decode())["fe/FRONTEND"]
    assert served(port) == {"a", "b"}
    for _ in range(6):  # new connections: both workers answer some
        status, body = get(page, "/stats;csv")
        assert status == 200
        fe = stat_rows(body.decode())["fe/FRONTEND"]
        assert int(fe["stot"]) - int(before["stot"]) == TRIES
        status, body = get(page, "/metrics")
        assert status == 200
        line = next(
            x
            for x in body.decode().splitlines()
            if x.startswith('haproxy_frontend_sessions_total{proxy="fe"}')
        )
        assert int(line.split()[-1]) - int(before["stot"]) == TRIES


def test_dynamic_server_in_every_worker(master, port, tmp_path, backends):
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    master.start(share_cfg(port, stats, a.port, b.port, chk.port), wait=port)
    got = talk(stats, f"add server be/s3 127.0.0.1:{b.port} check port {chk.port} inter 100\n")
    assert got == "New server registered.\n\n", got
    # it starts in maintenance, its check disabled: everywhere
    both_say(master, "show stat", lambda t: status_of(t, "s3") == "MAINT")
    for cmd in ("set server be/s3 state ready", "enable health be/s3"):
        assert talk(stats, cmd + "\n") == "\n", cmd
    assert talk(stats, "set server be/s1 state maint\n") == "\n"
    assert served(port) == {"b"}
    start = len(chk.seen)
    time.sleep(1.0)
    # s2's and s3's checks, every 100 ms each: 20, not 30 (s3's twice)
    assert len(chk.seen) - start <= 25, len(chk.seen) - start
    # its check runs once, in the owner, and reaches both workers
    chk.set("refuse")
    wait_for(lambda: "Server be/s3 is DOWN" in master.text(), what="s3 DOWN")
    settled(master, "s3", "DOWN")
    rows = stat_rows(talk(stats, "show stat\n"))
    assert int(rows["be/s3"]["lbtot"]) + int(rows["be/s2"]["lbtot"]) == TRIES
    assert master.text().count("Server be/s3 is DOWN") == 1
    # no worker may still carry a stream to s3 (CurrConns: summed)
    wait_for(lambda: info(talk(stats, "show info\n"))["CurrConns"] == "0", what="no stream")
    assert talk(stats, "set server be/s3 state maint\n") == "\n"
    assert talk(stats, "del server be/s3\n") == "Server deleted.\n"
    both_say(master, "show stat", lambda t: ",s3," not in t)


def test_single_worker_replacement_keeps_the_runtime_state(master, port, tmp_path, backends):
    """nbthread 1: nobody to share with, but a crash does not undo the
    runtime API's changes (the master keeps what worker 1 published)."""
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    master.start(share_cfg(port, stats, a.port, b.port, chk.port, nbthread=1), wait=port)
    for cmd in ("set server be/s1 state maint", "set maxconn server be/s2 7"):
        assert talk(stats, cmd + "\n") == "\n", cmd
    old = int(info(talk(stats, "show info\n"))["Pid"])
    os.kill(old, signal.SIGKILL)
    wait_for(
        lambda: worker_pids(master.sock)[0] and old not in worker_pids(master.sock)[0],
        what="a replacement worker",
    )
    wait_for(lambda: "Pid" in cli(master.sock, "@1 show info"), what="it serves")
    rows = stat_rows(cli(master.sock, "@1 show stat"))
    assert rows["be/s1"]["status"] == "MAINT"
    assert rows["be/s2"]["slim"] == "7"
    assert served(port) == {"b"}


def test_frontend_commands_in_every_worker(master, port, tmp_path, backends):
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    master.start(share_cfg(port, stats, a.port, b.port, chk.port), wait=port)
    assert talk(stats, "disable frontend fe\n") == "\n"
    both_say(master, "show stat", lambda t: status_of(t, "FRONTEND") == "PAUSED")
    assert talk(stats, "enable frontend fe\n") == "\n"
    both_say(master, "show stat", lambda t: status_of(t, "FRONTEND") == "OPEN")
    assert served(port) == {"a", "b"}
    assert talk(stats, "set maxconn frontend fe 3\n") == "\n"
    both_say(master, "show stat", lambda t: stat_rows(t)["fe/FRONTEND"]["slim"] == "3")


def test_stats_page_admin_form_in_every_worker(master, port, tmp_path, backends):
    import http.client

    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    page = free_port()
    cfg = (
        share_cfg(port, stats, a.port, b.port, chk.port)
        + f"""
frontend st
    bind 127.0.0.1:{page}
    stats uri /stats
    stats admin if TRUE
"""
    )
    master.start(cfg, wait=port)
    wait_port(page, master.proc)

    def post(action: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", page, timeout=5)
        try:
            conn.request(
                "POST",
                "/stats",
                body=f"s=s1&action={action}&b=be".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            resp = conn.getresponse()
            resp.read()
        finally:
            conn.close()
        assert resp.status == 303 and "st=DONE" in resp.getheader("location", "")

    # new connections: some land on the worker that does not own the checks
    for _ in range(4):
        post("maint")
        both_say(master, "show stat", lambda t: status_of(t, "s1") == "MAINT")
        post("ready")
        both_say(master, "show stat", lambda t: status_of(t, "s1") == "no check")
    post("maint")
    assert served(port) == {"b"}


def test_observed_errors_in_any_worker_reach_the_owner(master, port, tmp_path, backends):
    """``observe layer4``: whichever worker sees the failed connections, the
    owner's health check acts (one message) and both workers follow."""
    a, b, chk = backends
    stats = tmp_path / "stats.sock"
    dead = free_port()  # nothing listens: every connection to s2 fails
    cfg = f"""global
    nbthread 2
    stats socket {stats} mode 600 level admin
{TIMEOUTS}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    retries 0
    server s1 127.0.0.1:{a.port}
    server s2 127.0.0.1:{dead} check port {chk.port} inter 300 rise 2 fall 3 observe layer4 error-limit 1 on-error mark-down
"""
    master.start(cfg, wait=port)
    failed = 0
    for _ in range(TRIES):
        settled(master, "s2", "UP")
        before = master.text().count("Server be/s2 is DOWN")
        status, _body = get(port)  # a new connection: either worker
        if status == 200:  # s1's turn
            continue
        failed += 1
        # the failure, seen by one worker, takes s2 DOWN by the owner's check
        wait_for(
            lambda n=before: master.text().count("Server be/s2 is DOWN") == n + 1,
            timeout=5,
            what="s2 DOWN by its observed traffic",
        )
        assert "Health analyze" in master.text()
        settled(master, "s2", "DOWN")
        wait_for(lambda n=before: master.text().count("Server be/s2 is UP") == n + 1, what="UP")
        if failed == 5:
            break
    assert failed == 5


def test_show_sess_lists_every_workers_streams(master, port, tmp_path):
    """``show sess`` from whichever worker accepts lists the streams of
    both (ids tagged with their worker, so all distinct), and ``shutdown
    session`` ends a stream of either worker."""
    hang = Target(b"", mode="hang")  # the server never answers: streams stay
    stats = tmp_path / "stats.sock"
    cfg = f"""global
    nbthread 2
    stats socket {stats} mode 600 level admin
{TIMEOUTS}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    server s1 127.0.0.1:{hang.port}
"""
    clients = []
    try:
        master.start(cfg, wait=port)
        for _ in range(16):
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            clients.append(c)

        def listed() -> list[int]:
            lines = [ln for ln in talk(stats, "show sess\n").splitlines() if " fe=fe " in ln]
            return [int(ln.split(":", 1)[0], 16) for ln in lines]

        wait_for(lambda: len(listed()) == 16, what="16 streams listed")
        ids = listed()
        assert len(set(ids)) == 16
        tags = {i >> 48 for i in ids}
        assert tags == {1, 2}, [hex(i) for i in ids]  # both workers' streams
        for tag in (1, 2):
            victim = next(i for i in ids if i >> 48 == tag)
            assert talk(stats, f"shutdown session {victim:#x}\n") == "\n"
        wait_for(lambda: len(listed()) == 14, what="two streams ended")
        assert talk(stats, "shutdown session 0x1\n") == "No such session (use 'show sess').\n\n"
        ended = 0
        for c in clients:
            c.settimeout(0.2)
            try:
                ended += c.recv(100) == b""
            except TimeoutError:
                pass
            except OSError:
                ended += 1
        assert ended == 2
    finally:
        for c in clients:
            c.close()
        hang.close()
