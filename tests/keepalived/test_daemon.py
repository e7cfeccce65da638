"""The pykeepalived process: signals, reload, dumps, notify scripts, pid files."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from .confs import GLOBAL, instance
from .netlab import wait_for

pytestmark = [pytest.mark.timeout(60)]

VIP = "10.70.0.200"


def _notify_script(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "notify.out"
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$@" >> {out}\n')
    script.chmod(0o755)
    return script, out


def test_notify_signals_reload_and_dumps(make_lab, tmp_path):
    lab = make_lab(nodes=1)
    script, out = _notify_script(tmp_path)
    master_flag = tmp_path / "became-master"
    extra = f'  notify "{script}"\n  notify_master "/usr/bin/touch {master_flag}"\n'
    conf = GLOBAL + instance(state="MASTER", priority=150, extra=extra)
    py = lab.start(0, "py", conf, name="py")
    assert wait_for(lambda: lab.has_ip(0, VIP), 10) is not None, lab.log(py)
    assert wait_for(lambda: master_flag.exists(), 3) is not None
    assert wait_for(lambda: out.exists() and "MASTER" in out.read_text(), 3) is not None
    assert out.read_text().splitlines() == ["INSTANCE VI_1 BACKUP 150", "INSTANCE VI_1 MASTER 150"]
    pids = [tmp_path / f"py.{k}.pid" for k in ("main", "vrrp")]
    assert [int(p.read_text()) for p in pids] == [py.pid, py.pid]

    # HUP with nothing changed: no transition, the VIP stays.
    before = lab.log(py).count("Entering")
    os.kill(py.pid, signal.SIGHUP)
    assert wait_for(lambda: "Reload finished" in lab.log(py), 5) is not None, lab.log(py)
    assert lab.log(py).count("Entering") == before and lab.has_ip(0, VIP)

    # HUP with a second VIP: added without a transition.
    (tmp_path / "py.conf").write_text(
        GLOBAL
        + instance(
            state="MASTER",
            priority=150,
            extra=extra,
            vips=(VIP + "/24", "10.70.0.201/24 dev eth0 label eth0:vip"),
        )
    )
    os.kill(py.pid, signal.SIGHUP)
    assert wait_for(lambda: lab.has_ip(0, "10.70.0.201"), 5) is not None, lab.log(py)
    addrs = lab.run(lab.nodes[0], "ip", "-o", "-4", "addr", "show", "dev", "eth0")
    assert any("10.70.0.201/24" in a and " eth0:vip" in a for a in addrs.splitlines())
    assert lab.log(py).count("Entering") == before and lab.has_ip(0, VIP)

    # USR1 / USR2: keepalived's data and stats files.
    for sig, path, text in (
        (signal.SIGUSR1, "/tmp/keepalived.data", " VRRP Instance = VI_1\n   VRRP Version = 2\n"),
        (signal.SIGUSR2, "/tmp/keepalived.stats", "VRRP Instance: VI_1\n  Advertisements:\n"),
    ):
        Path(path).unlink(missing_ok=True)
        os.kill(py.pid, sig)
        assert wait_for(lambda p=path: os.path.exists(p) and os.path.getsize(p) > 0, 3) is not None
        assert text in Path(path).read_text()
    assert "   State = MASTER\n" in Path("/tmp/keepalived.data").read_text()

    # TERM: VIPs released, STOP notified, pid files removed.
    lab.stop(py, signal.SIGTERM)
    assert py.returncode == 0, lab.log(py)
    assert not lab.has_ip(0, VIP) and not lab.has_ip(0, "10.70.0.201")
    assert out.read_text().splitlines()[-1] == "INSTANCE VI_1 STOP 150"
    assert not any(p.exists() for p in pids)


def test_interface_down_is_fault_and_recovers(make_lab):
    lab = make_lab(nodes=1)
    py = lab.start(0, "py", GLOBAL + instance(state="MASTER", priority=150), name="py")
    assert wait_for(lambda: lab.has_ip(0, VIP), 10) is not None, lab.log(py)
    lab.run(lab.nodes[0], "ip", "link", "set", "eth0", "down")
    assert wait_for(lambda: "Entering FAULT STATE" in lab.log(py), 3) is not None, lab.log(py)
    assert not lab.has_ip(0, VIP)
    lab.run(lab.nodes[0], "ip", "link", "set", "eth0", "up")
    assert wait_for(lambda: lab.has_ip(0, VIP), 10) is not None, lab.log(py)


def test_refuses_second_instance_with_same_pidfile(make_lab, tmp_path):
    lab = make_lab(nodes=1)
    py = lab.start(0, "py", GLOBAL + instance(priority=100), name="py")
    assert wait_for(lambda: (tmp_path / "py.main.pid").exists(), 5) is not None
    again = lab.start(0, "py", GLOBAL + instance(priority=100), name="py")
    assert again.wait(10) != 0
    assert "daemon is already running" in lab.log(again)
    assert py.poll() is None


def test_smtp_alert_on_becoming_master(make_lab, tmp_path):
    lab = make_lab(nodes=1)
    mail = tmp_path / "mail.txt"
    lab.spawn(
        lab.nodes[0],
        sys.executable,
        str(Path(__file__).with_name("fake_smtp.py")),
        "2525",
        str(mail),
    )
    gdefs = (
        "global_defs {\n  router_id lb1\n  notification_email {\n    ops@example.com\n  }\n"
        "  notification_email_from lb1@example.com\n  smtp_server 127.0.0.1 2525\n"
        "  smtp_connect_timeout 5\n}\n"
    )
    py = lab.start(0, "py", gdefs + instance(state="MASTER", priority=150, extra="  smtp_alert\n"))
    assert wait_for(lambda: mail.exists() and b"MASTER" in mail.read_bytes(), 10), lab.log(py)
    text = mail.read_text()
    assert "Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state" in text
    assert "From: lb1@example.com" in text and "To: ops@example.com" in text


def test_systemd_notify_ready(make_lab, tmp_path):
    lab = make_lab(nodes=1)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(10)
    py = lab.start(0, "py", GLOBAL + instance(priority=100), env={"NOTIFY_SOCKET": path})
    assert sock.recv(100) == b"READY=1", lab.log(py)
    os.kill(py.pid, signal.SIGHUP)
    assert [sock.recv(100), sock.recv(100)] == [b"RELOADING=1", b"READY=1"]
    lab.stop(py)
    assert sock.recv(100) == b"STOPPING=1"
    sock.close()


def test_forks_into_background_without_dont_fork(make_lab, tmp_path):
    lab = make_lab(nodes=1)
    conf = tmp_path / "bg.conf"
    conf.write_text(GLOBAL + instance(state="MASTER", priority=150))
    pid, vrrp_pid = tmp_path / "bg.pid", tmp_path / "bg-vrrp.pid"
    cmd = [sys.executable, "-m", "pyhaproxy.keepalived", "-f", str(conf), "-G"]
    cmd += ["-p", str(pid), "-r", str(vrrp_pid)]
    lab.run(lab.nodes[0], *cmd)  # returns once the daemon has detached
    assert wait_for(lambda: pid.exists() and pid.read_text().strip(), 5) is not None
    daemon = int(pid.read_text())
    assert int(vrrp_pid.read_text()) == daemon
    try:
        assert wait_for(lambda: lab.has_ip(0, VIP), 10) is not None
    finally:
        os.kill(daemon, signal.SIGTERM)
    assert wait_for(lambda: not pid.exists(), 5) is not None
    assert not lab.has_ip(0, VIP)


def test_cli_version_and_unsupported_checker_mode(capsys):
    from pyhaproxy.keepalived import cli

    assert cli.main(["-v"]) == 0
    assert capsys.readouterr().err.startswith("Keepalived v2.2.7 (pykeepalived)")
    assert cli.main(["-C"]) == cli.EXIT_PROGRAM_ERROR
    assert "not supported yet" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["-S", "9"])
