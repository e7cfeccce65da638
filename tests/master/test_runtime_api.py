"""The runtime API in master-worker mode, through the real process:
``stats socket`` lines bound by the master and served by every worker,
the master CLI's ``@<n>`` / ``@!<pid>`` forwarding to a worker's runtime
API, and the ``-S`` bind options (management.txt §9.4)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyhaproxy.master import mcli
from tests.dataplane.conftest import ROOT, wait_port
from tests.master.conftest import TIMEOUTS, Master, alive, cli, wait_for, worker_pids

HAPROXY = "/usr/sbin/haproxy"


def stats_cfg(port: int, stats: Path, nbthread: int = 2) -> str:
    return f"""global
    nbthread {nbthread}
    stats socket {stats} mode 600 level admin
{TIMEOUTS}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    server s1 127.0.0.1:9 weight 7
"""


def talk(path: str | Path, text: str, timeout: float = 10.0) -> str:
    """Send ``text``, close our side, read the answer to the end."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(text.encode())
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
    return b"".join(chunks).decode()


def info(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


# ---- stats socket under -W ------------------------------------------------------------


def test_stats_socket_served_by_two_workers_and_kept_across_reload(master, port, tmp_path):
    stats = tmp_path / "stats.sock"
    master.start(stats_cfg(port, stats), wait=port)
    first, _ = worker_pids(master.sock)
    assert len(first) == 2 and all(alive(p) for p in first)
    assert stat.S_IMODE(os.stat(stats).st_mode) == 0o600  # set by the master
    pids = {int(info(cli(stats, "show info"))["Pid"]) for _ in range(6)}
    assert pids <= set(first)
    assert "exited with code 1" not in master.text()

    assert master.reload().startswith("Success=1")
    wait_for(lambda: not any(alive(p) for p in first), what="old workers gone")
    second, old = worker_pids(master.sock)
    assert len(second) == 2 and not set(second) & set(first) and not old
    for _ in range(4):
        got = info(cli(stats, "show info"))
        assert got["Name"] == "HAProxy" and int(got["Pid"]) in second
    assert stat.S_IMODE(os.stat(stats).st_mode) == 0o600


def test_stats_socket_address_change_on_reload(master, port, tmp_path):
    a, b = tmp_path / "a.sock", tmp_path / "b.sock"
    master.start(stats_cfg(port, a), wait=port)
    assert "Pid" in info(cli(a, "show info"))
    assert master.reload(stats_cfg(port, b)).startswith("Success=1")
    current, _ = worker_pids(master.sock)
    assert int(info(cli(b, "show info"))["Pid"]) in current
    wait_for(lambda: not a.exists(), what="old stats socket removed")


def test_stats_socket_bind_failure_under_master(tmp_path, port):
    cfg = tmp_path / "h.cfg"
    cfg.write_text(stats_cfg(port, Path("/nonexistent/dir/stats.sock")))
    cmd = [sys.executable, "-m", "pyhaproxy", "-W", "-db", "-f", str(cfg)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert (
        f"Binding [{cfg}:3] for frontend GLOBAL: cannot bind UNIX socket "
        "(No such file or directory) [/nonexistent/dir/stats.sock]" in proc.stderr
    )
    assert "Some protocols failed to start their listeners! Exiting." in proc.stderr


# ---- master CLI forwarding ------------------------------------------------------------


def test_forward_to_worker_by_number_and_pid(master, port, tmp_path):
    master.start(stats_cfg(port, tmp_path / "stats.sock"), wait=port)
    current, _ = worker_pids(master.sock)
    one = int(info(cli(master.sock, "@1 show info"))["Pid"])
    two = int(info(cli(master.sock, "@2 show info"))["Pid"])
    assert {one, two} == set(current)
    stat_csv = cli(master.sock, f"@!{two} show stat")
    assert stat_csv.startswith("# pxname,svname,")
    assert "\nbe,s1," in stat_csv
    assert cli(master.sock, "@3 show info") == (
        "Can't find the target PID matching the prefix '@3'\n"
    )
    assert cli(master.sock, "@!1 show info") == (
        "Can't find the target PID matching the prefix '@!1'\n"
    )
    # the error closes the connection: what follows is not run
    assert talk(master.sock, "@9 show info; show proc\n").count("\n") == 1


def test_forward_changes_every_worker(master, port, tmp_path):
    """A state change sent to @1 is answered once worker 2 has it too."""
    master.start(stats_cfg(port, tmp_path / "stats.sock"), wait=port)
    got = talk(master.sock, "@1 set weight be/s1 3; @1 get weight be/s1; @2 get weight be/s1\n")
    assert got == "\n3 (initial 7)\n\n3 (initial 7)\n\n"
    got = talk(master.sock, "@2 set server be/s1 weight 4; @1 get weight be/s1\n")
    assert got == "\n4 (initial 7)\n\n"


def test_prefix_alone_sets_the_target(master, port, tmp_path):
    master.start(stats_cfg(port, tmp_path / "stats.sock"), wait=port)
    current, _ = worker_pids(master.sock)
    one = int(info(cli(master.sock, "@1 show info"))["Pid"])
    got = talk(master.sock, "prompt\n@1\nshow cli level\n@\nshow cli level\nquit\n")
    assert got == f"master> {one}> admin\n\n{one}> master> admin\n\nmaster> master> "
    got = talk(master.sock, f"@!{current[1]}; show info; @; show proc\n")
    assert f"\nPid: {current[1]}\n" in got and "# workers\n" in got


def test_master_cli_levels(master, port, tmp_path):
    user = tmp_path / "user.sock"
    args = ("-W", "-db", "-S", f"{user},level,user,mode,640")
    master.start(stats_cfg(port, tmp_path / "stats.sock"), wait=port, args=args)
    assert stat.S_IMODE(os.stat(user).st_mode) == 0o640
    assert cli(user, "@1 show cli level") == "user\n\n"
    assert cli(user, "@1 set weight be/s1 3") == "Permission denied\n\n"
    assert cli(user, "reload") == "Permission denied\n\n"
    assert cli(user, "operator") == "Permission denied!\n"
    assert "# workers" in cli(user, "show proc")
    assert cli(master.sock, "operator; @1 show cli level") == "operator\n\n"


# ---- -S options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "alert"),
    [
        ("{p},foo", "'{p} foo' : unknown keyword 'foo'. Did you mean 'tfo' maybe ?"),
        (
            "{p},mode,abc",
            "'{p} mode' : ''mode' : missing or invalid mode 'abc' (octal integer expected)'",
        ),
        (
            "{p},maxconn,5",
            "'{p} maxconn' : bind option 'maxconn' is not implemented yet by pyhaproxy "
            "for the master CLI (-S)",
        ),
    ],
)
def test_bad_master_cli_option_refused(tmp_path, port, spec, alert):
    cfg = tmp_path / "h.cfg"
    cfg.write_text(stats_cfg(port, tmp_path / "stats.sock"))
    path = tmp_path / "m.sock"
    spec, alert = spec.format(p=path), alert.format(p=path)
    cmd = [sys.executable, "-m", "pyhaproxy", "-W", "-db", "-f", str(cfg), "-S", spec]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert f"config : {alert}\n" in proc.stderr
    assert "config : Can't create the master's CLI.\n" in proc.stderr
    assert not path.exists()


def test_spec_parsing():
    spec = mcli.parse_spec("/run/m.sock,mode,600,uid,1000,gid,1000,level,operator")
    assert (spec.kind, spec.address) == ("unix", "/run/m.sock")
    assert spec.options == {"mode": 0o600, "uid": 1000, "gid": 1000, "level": "operator"}
    assert spec.level == 2
    assert mcli.parse_spec("127.0.0.1:9999").kind == "ipv4"
    assert mcli.parse_spec("fd@3").address == "3"
    assert mcli.parse_spec("/x").level == 3  # admin by default
    with pytest.raises(mcli.SpecError, match="only supports 'user', 'operator', and 'admin'"):
        mcli.parse_spec("/x,level,root")


def test_master_cli_on_inherited_fd(tmp_path, port):
    path = tmp_path / "fd.sock"
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(str(path))
    lsock.listen(8)
    fd = lsock.fileno()
    cfg = tmp_path / "h.cfg"
    cfg.write_text(stats_cfg(port, tmp_path / "stats.sock"))
    cmd = [sys.executable, "-m", "pyhaproxy", "-W", "-db", "-f", str(cfg), "-S", f"fd@{fd}"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, pass_fds=(fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    lsock.close()
    try:
        wait_port(port, proc, timeout=20)
        wait_for(lambda: "# workers" in cli(path, "show proc"), what="master CLI on fd@")
        assert "Pid" in info(cli(path, "@1 show info"))
    finally:
        proc.terminate()
        proc.wait(15)


# ---- compared with HAProxy ----------------------------------------------------------------


@pytest.mark.skipif(not shutil.which(HAPROXY), reason="haproxy is not installed")
def test_answers_as_haproxy(tmp_path, port):
    """HAProxy's master keeps a connection open until the client's end of
    file, so every exchange here ends our side first."""
    ours_dir, ref_dir = tmp_path / "ours", tmp_path / "ref"
    ours_dir.mkdir()
    ref_dir.mkdir()
    from tests.dataplane.servers import free_port

    ref_port = free_port()
    ours, ref = Master(ours_dir), Master(ref_dir)
    try:
        ours.start(stats_cfg(port, ours_dir / "stats.sock"), wait=port)
        ref.start(stats_cfg(ref_port, ref_dir / "stats.sock"), exe=[HAPROXY])
        wait_port(ref_port, ref.proc, timeout=20)
        wait_for(lambda: ref.sock.exists(), what="haproxy master CLI")
        time.sleep(0.3)

        def keys(m: Master) -> list[str]:
            text = talk(m.sock, "@1 show info\n")
            return [line.split(":", 1)[0] for line in text.splitlines() if line]

        assert keys(ours) == keys(ref)
        for cmd in ("@5 show info", "@!1 show info", "@x show proc", "user; operator"):
            assert talk(ours.sock, cmd + "\n") == talk(ref.sock, cmd + "\n"), cmd
        for cmd in ("@1 get weight be/s1", "@1 show cli level", "show cli level"):
            assert talk(ours.sock, cmd + "\n") == talk(ref.sock, cmd + "\n"), cmd

        def shape(m: Master) -> list[str]:
            out = []
            for line in talk(m.sock, "show proc\n").splitlines():
                out.append(line if line.startswith("#") else re.sub(r"\S+", "x", line))
            return out

        a, b = shape(ours), shape(ref)
        assert a[0] == b[0]  # the header
        assert [x for x in a if x.startswith("#")] == [x for x in b if x.startswith("#")]

        def prompt(m: Master, pid: int) -> str:
            got = talk(m.sock, "prompt\n@1\nshow cli level\n@\nquit\n")
            return got.replace(str(pid), "PID")

        ours_one = int(info(talk(ours.sock, "@1 show info\n"))["Pid"])
        ref_one = int(info(talk(ref.sock, "@1 show info\n"))["Pid"])
        assert prompt(ours, ours_one) == prompt(ref, ref_one)
    finally:
        ours.stop()
        ref.stop()
