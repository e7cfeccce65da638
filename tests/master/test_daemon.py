"""Daemon mode, pid file, old-style takeover (-sf/-st), privileges and the
file-descriptor limit (configuration.txt §3.1, management.txt §3-4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.dataplane.conftest import HAPROXY, ROOT, wait_port
from tests.dataplane.servers import free_port
from tests.master.conftest import alive, answer_cfg, get, wait_for, worker_pids

PY = [sys.executable, "-m", "pyhaproxy"]


def _uids(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Gid:"):
                gid = int(line.split()[1])
    return uid, gid


@pytest.mark.parametrize("mode", [("-D",), ("-D", "-W")])
def test_daemon_returns_and_writes_pidfile(tmp_path, port, mode):
    cfg = tmp_path / "h.cfg"
    cfg.write_text(answer_cfg(port, "d", nbthread=1))
    pidfile = tmp_path / "h.pid"
    out = subprocess.run(
        [*PY, "-f", str(cfg), *mode, "-p", str(pidfile)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    pid = int(pidfile.read_text())
    try:
        assert alive(pid)
        assert get(port) == (200, b"d")
        assert os.getsid(pid) == pid  # its own session, detached
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid), what="daemon exit")


@pytest.mark.parametrize("mode", [("-D",), ("-D", "-W")])
def test_daemon_reports_start_failure(tmp_path, port, mode):
    import socket

    busy = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", busy))
        holder.listen()
        cfg = tmp_path / "h.cfg"
        cfg.write_text(answer_cfg(port, "d", nbthread=1) + f"    bind 127.0.0.1:{busy}\n")
        out = subprocess.run(
            [*PY, "-f", str(cfg), *mode], capture_output=True, text=True, timeout=30, cwd=ROOT
        )
    assert out.returncode == 1
    assert "cannot bind socket (Address already in use)" in out.stderr


@pytest.mark.parametrize("flag,old_status", [("-sf", 0), ("-st", -signal.SIGTERM)])
def test_takeover_from_old_process(tmp_path, port, flag, old_status):
    cfg = tmp_path / "h.cfg"
    cfg.write_text(answer_cfg(port, "old", nbthread=1))
    log = open(tmp_path / "old.log", "w")  # noqa: SIM115
    old = subprocess.Popen([*PY, "-f", str(cfg), "-db"], stdout=log, stderr=log, cwd=ROOT)
    new = None
    try:
        wait_port(port, old)
        cfg.write_text(answer_cfg(port, "new", nbthread=1))
        new = subprocess.Popen(
            [*PY, "-f", str(cfg), "-db", flag, str(old.pid)], stdout=log, stderr=log, cwd=ROOT
        )
        assert old.wait(20) == old_status
        assert get(port) == (200, b"new")
    finally:
        for p in (old, new):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(5)
        log.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to change user")
def test_workers_run_unprivileged(master, port):
    cfg = answer_cfg(port, "u", extra_global="    user nobody\n    group nogroup\n")
    master.start(cfg, wait=port)
    current, _ = worker_pids(master.sock)
    assert len(current) == 2
    for pid in current:
        assert _uids(pid) == (65534, 65534)
    assert _uids(master.proc.pid) == (0, 0)  # the master keeps root to reload
    assert get(port) == (200, b"u")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to change user")
def test_single_process_runs_unprivileged(launcher, port):
    cfg = answer_cfg(port, "u", nbthread=1, extra_global="    uid 65534\n    gid 65534\n")
    proc = launcher.start(cfg, wait=port)
    wait_for(lambda: _uids(proc.pid) == (65534, 65534), what="privileges dropped")
    assert get(port) == (200, b"u")


def _limit_cfg(port: int, extra: str) -> str:
    return answer_cfg(port, "x", nbthread=1, extra_global=extra)


@pytest.mark.parametrize(
    "extra",
    [
        "    maxconn 10000\n    ulimit-n 1000\n",
        "    maxconn 10000\n",
    ],
)
def test_fd_limit_messages_as_haproxy(tmp_path, port, extra):
    cfg = tmp_path / "h.cfg"
    cfg.write_text(_limit_cfg(port, extra))
    ours = subprocess.run([*PY, "-f", str(cfg), "-db"], capture_output=True, text=True, timeout=30)
    assert ours.returncode == 1
    alerts = [x.split(" : ", 1)[1] for x in ours.stderr.splitlines() if "[ALERT]" in x]
    assert alerts, ours.stderr
    if os.path.exists(HAPROXY):
        ref = subprocess.run(
            [HAPROXY, "-f", str(cfg), "-db"], capture_output=True, text=True, timeout=30
        )
        assert ref.returncode == 1
        theirs = [x.split(" : ", 1)[1] for x in ref.stderr.splitlines() if "[ALERT]" in x]
        assert [x.split("main()] ", 1)[1] for x in alerts] == [
            x.split("main()] ", 1)[1] for x in theirs
        ]
