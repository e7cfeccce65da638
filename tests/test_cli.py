"""The command line behaves as haproxy's (management.txt §3)."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.helpers import ROOT, run_pyhaproxy

EXAMPLES = ROOT / "conf" / "examples"


def test_version_is_haproxy_shaped():
    out = run_pyhaproxy("-v").stdout
    assert re.match(r"HAProxy version 2\.6\.\d+-pyhaproxy-\S+ \d{4}/\d\d/\d\d - ", out)


def test_vv_lists_features_and_services():
    out = run_pyhaproxy("-vv").stdout
    features = next(line for line in out.splitlines() if line.startswith("Feature list : "))
    assert "+EPOLL" in features and "+OPENSSL" in features
    assert any(line.startswith("Available services :") for line in out.splitlines())


@pytest.mark.parametrize(
    "expr, status",
    [
        ("1", 0),
        ("0", 1),
        ("version_atleast(2.6) && !version_before(2.6)", 0),
        ("feature(EPOLL)", 0),
        ("feature(LUA)", 1),
        ("defined(PYHAPROXY_TEST_VAR)", 0),
        ("streq(a,b) || strneq(a,b)", 0),
        ("foo(", 2),
    ],
)
def test_check_condition(expr, status):
    env = dict(os.environ, PYHAPROXY_TEST_VAR="")
    assert run_pyhaproxy("-cc", expr, env=env).returncode == status


def test_check_condition_error_message():
    err = run_pyhaproxy("-cc", "1 2").stderr
    assert "Failed to evaluate condition: " in err


@pytest.mark.parametrize("name", ["rh-lb-basic.cfg", "rh-lb-rsyslog.cfg", "ceph-rgw.cfg"])
def test_seed_examples_are_valid(name):
    res = run_pyhaproxy("-C", str(EXAMPLES), "-c", "-f", name)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == "Configuration file is valid"


@pytest.mark.skipif(not shutil.which("haproxy"), reason="Debian's haproxy is not installed")
@pytest.mark.parametrize("name", ["rh-lb-basic.cfg", "rh-lb-rsyslog.cfg", "ceph-rgw.cfg"])
def test_seed_examples_valid_for_haproxy_too(name):
    import subprocess

    res = subprocess.run(["haproxy", "-c", "-f", name], cwd=EXAMPLES, capture_output=True)
    assert res.returncode == 0


def test_check_reports_errors_with_file_and_line(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("frontend fe\n    bind 127.0.0.1:1\n    balanse roundrobin\n")
    res = run_pyhaproxy("-c", "-f", str(cfg))
    assert res.returncode == 1
    assert re.search(
        rf"^\[ALERT\]    \(\d+\) : config : parsing \[{re.escape(str(cfg))}:3\] : unknown keyword "
        r"'balanse' in 'frontend' section; did you mean 'balance' maybe \?$",
        res.stderr,
        re.M,
    )
    assert f"Error(s) found in configuration file : {cfg}" in res.stderr
    assert res.stderr.rstrip().endswith("Fatal errors found in configuration.")


def test_no_listener_exits_2(tmp_path):
    cfg = tmp_path / "g.cfg"
    cfg.write_text("global\n    maxconn 10\n")
    res = run_pyhaproxy("-c", "-f", str(cfg))
    assert res.returncode == 2
    assert "will not start (no listener)" in res.stdout


def test_quiet_check_prints_nothing(tmp_path):
    cfg = tmp_path / "q.cfg"
    cfg.write_text("listen l\n    bind 127.0.0.1:1\n")
    res = run_pyhaproxy("-q", "-c", "-f", str(cfg))
    assert res.returncode == 0 and res.stdout == "" and res.stderr == ""


def test_missing_file_is_an_alert():
    res = run_pyhaproxy("-c", "-f", "/nonexistent/x.cfg")
    assert res.returncode == 1
    assert "Cannot open configuration file/directory /nonexistent/x.cfg" in res.stderr


def test_unknown_option_prints_usage():
    res = run_pyhaproxy("-Z")
    assert res.returncode == 1 and "Usage : pyhaproxy" in res.stderr


def test_debug_flags_are_accepted(tmp_path):
    cfg = tmp_path / "d.cfg"
    cfg.write_text("listen l\n    bind 127.0.0.1:1\n")
    assert run_pyhaproxy("-dM", "-dr", "-q", "-c", "-f", str(cfg)).returncode == 0


def test_directory_contributes_cfg_files_in_order(tmp_path):
    (tmp_path / "b.cfg").write_text("listen b\n    bind 127.0.0.1:2\n    bogus\n")
    (tmp_path / "a.cfg").write_text("listen a\n    bind 127.0.0.1:1\n    bogus\n")
    (tmp_path / "c.txt").write_text("this is not read\n")
    err = run_pyhaproxy("-c", "-f", str(tmp_path)).stderr
    a, b = err.index("a.cfg:3"), err.index("b.cfg:3")
    assert a < b and "c.txt" not in err


def test_start_refuses_unimplemented_keywords(tmp_path):
    cfg = tmp_path / "u.cfg"
    cfg.write_text("listen l\n    bind 127.0.0.1:1\n    option spop-check\n")
    res = run_pyhaproxy("-f", str(cfg), "-db")
    assert res.returncode == 1
    assert re.search(
        rf"parsing \[{re.escape(str(cfg))}:3\] : 'option spop-check' is not implemented yet",
        res.stderr,
    )


@pytest.mark.parametrize("flag", [["-x", "/tmp/x"], ["-m", "100"], ["-n", "10"], ["-N", "10"]])
def test_unimplemented_runtime_flags_are_refused(tmp_path, flag):
    cfg = tmp_path / "l.cfg"
    cfg.write_text("global\n")
    # -c accepts them, a real start refuses them with a clear alert
    assert run_pyhaproxy(*flag, "-c", "-f", str(cfg)).returncode == 2
    res = run_pyhaproxy(*flag, "-f", str(cfg))
    assert res.returncode == 1 and "is not implemented yet by pyhaproxy" in res.stderr


def test_start_without_listener_fails(tmp_path):
    cfg = tmp_path / "g.cfg"
    cfg.write_text("global\n")
    res = run_pyhaproxy("-f", str(cfg), "-db")
    assert res.returncode == 1 and "No enabled listener found" in res.stderr


@pytest.mark.skipif(not shutil.which("haproxy"), reason="Debian's haproxy is not installed")
@pytest.mark.parametrize(
    "flags",
    [
        ["-W", "-S", "{d}/m.sock,foo"],  # bad option under -W: -c fails
        ["-W", "-S", "{d}/m.sock,mode,600"],
        ["-S", "{d}/m.sock,foo"],  # without -W: a warning, valid
    ],
)
def test_check_master_cli_specs_like_haproxy(tmp_path, flags):
    import subprocess

    cfg = tmp_path / "h.cfg"
    cfg.write_text(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n"
        "    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:0\n"
    )
    args = [f.format(d=tmp_path) for f in flags] + ["-c", "-f", str(cfg)]
    ours = run_pyhaproxy(*args)
    theirs = subprocess.run(["haproxy", *args], capture_output=True, text=True, timeout=30)

    def lines(err: str) -> list[str]:
        return [re.sub(r"\(\d+\)", "(PID)", x) for x in err.splitlines() if "[NOTICE]" not in x]

    assert ours.returncode == theirs.returncode
    assert lines(ours.stderr) == lines(theirs.stderr)
