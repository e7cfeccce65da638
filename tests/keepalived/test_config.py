"""keepalived.conf: grammar, include, keywords, messages and ``-t`` verdicts."""

from __future__ import annotations

import configparser
import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest

from pyhaproxy.keepalived import cli
from pyhaproxy.keepalived.parser import load
from pyhaproxy.keepalived.reader import ERROR, FATAL, Diagnostics

from .netlab import KEEPALIVED, REPO, need_keepalived

EXAMPLES = sorted((REPO / "conf" / "examples").glob("keepalived-*.conf"))


def parse(tmp_path: Path, text: str, name: str = "keepalived.conf"):
    path = tmp_path / name
    path.write_text(text)
    d = Diagnostics()
    return load(str(path), d), d, path


def messages(d: Diagnostics) -> list[str]:
    return [str(i) for i in d.items]


FULL = """\
! comment
global_defs {
  router_id lb1          # trailing comment
  vrrp_version 3
  script_user root
  enable_script_security
  notification_email {
    ops@example.com
    noc@example.com
  }
  notification_email_from lb@example.com
  smtp_server 192.0.2.25 2525
  smtp_connect_timeout 30
  vrrp_garp_master_delay 2
  vrrp_garp_master_repeat 3
  vrrp_garp_master_refresh 60
  vrrp_skip_check_adv_addr
}
vrrp_script chk_haproxy {
  script "/usr/bin/killall -0 haproxy"
  interval 2
  timeout 1
  weight -20
  rise 2
  fall 3
  user nobody
}
vrrp_sync_group VG1 {
  group {
    VI_1
  }
  notify_master "/etc/keepalived/group.sh master"
  track_script {
    chk_haproxy
  }
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 2
  nopreempt
  preempt_delay 5
  version 2
  authentication {
    auth_type PASS
    auth_pass 0123456789
  }
  virtual_ipaddress {
    10.0.0.10/24 dev eth1 label eth1:vip
    10.0.0.11
  }
  virtual_ipaddress_excluded { 10.0.1.10/24 }
  unicast_src_ip 10.0.0.1
  unicast_peer {
    10.0.0.2
    10.0.0.3
  }
  track_script {
    chk_haproxy weight 10
  }
  track_interface {
    eth1
    eth2 weight -5
  }
  notify_master /etc/keepalived/master.sh
  notify_backup "/etc/keepalived/backup.sh x"
  notify_fault /etc/keepalived/fault.sh
  notify_stop /etc/keepalived/stop.sh
  notify /etc/keepalived/notify.sh
  garp_master_delay 1
  garp_master_refresh 10
  accept
  smtp_alert
}
"""


def test_full_configuration_model(tmp_path):
    cfg, d, _ = parse(tmp_path, FULL)
    assert messages(d) == [
        "(%s: Line 48) (VI_1) Truncating auth_pass to 8 characters" % (tmp_path / "keepalived.conf")
    ]
    g = cfg.global_defs
    assert (g.router_id, g.vrrp_version, g.script_user, g.enable_script_security) == (
        "lb1",
        3,
        "root",
        True,
    )
    assert g.notification_email == ["ops@example.com", "noc@example.com"]
    assert (g.smtp_server, g.smtp_port, g.smtp_connect_timeout) == ("192.0.2.25", 2525, 30.0)
    assert (g.vrrp_garp_master_delay, g.vrrp_garp_master_repeat, g.vrrp_garp_master_refresh) == (
        2,
        3,
        60,
    )
    assert g.vrrp_skip_check_adv_addr
    s = cfg.scripts["chk_haproxy"]
    assert (s.script, s.interval, s.timeout, s.weight, s.rise, s.fall, s.user) == (
        "/usr/bin/killall -0 haproxy",
        2,
        1,
        -20,
        2,
        3,
        "nobody",
    )
    i = cfg.instances["VI_1"]
    assert (i.state, i.interface, i.virtual_router_id, i.priority, i.advert_int) == (
        "MASTER",
        "eth0",
        51,
        150,
        2,
    )
    assert (i.preempt, i.preempt_delay, i.version, i.auth_type, i.auth_pass) == (
        False,
        5,
        2,
        "PASS",
        "01234567",
    )
    vip = i.virtual_ipaddress[0]
    assert (str(vip.address), vip.dev, vip.label) == ("10.0.0.10/24", "eth1", "eth1:vip")
    assert str(i.virtual_ipaddress[1].address) == "10.0.0.11/32"
    assert str(i.virtual_ipaddress_excluded[0].address) == "10.0.1.10/24"
    assert i.unicast_src_ip == ipaddress.ip_address("10.0.0.1")
    assert [str(p) for p in i.unicast_peer] == ["10.0.0.2", "10.0.0.3"]
    assert [(t.name, t.weight) for t in i.track_script] == [
        ("chk_haproxy", 10),
        ("chk_haproxy", 0),  # from the sync group: weight 0, the group goes FAULT
    ]
    assert [(t.name, t.weight) for t in i.track_interface] == [("eth1", 0), ("eth2", -5)]
    n = i.notify
    assert (n.master, n.backup, n.fault, n.stop, n.any) == (
        "/etc/keepalived/master.sh",
        "/etc/keepalived/backup.sh x",
        "/etc/keepalived/fault.sh",
        "/etc/keepalived/stop.sh",
        "/etc/keepalived/notify.sh",
    )
    assert (i.garp_master_delay, i.garp_master_refresh, i.accept, i.smtp_alert) == (
        1,
        10,
        True,
        True,
    )
    grp = cfg.sync_groups["VG1"]
    assert grp.group == ["VI_1"] and i.sync_group == "VG1"
    assert grp.notify.master == "/etc/keepalived/group.sh master"
    assert [t.name for t in grp.track_script] == ["chk_haproxy"]


def test_include_glob_relative_to_including_file(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text(
        "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n}\n"
    )
    (tmp_path / "conf.d" / "a.conf").write_text(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n  bogus 1\n}\n"
    )
    cfg, d, _ = parse(tmp_path, "include conf.d/*.conf\n")
    assert list(cfg.instances) == ["A", "B"]
    assert messages(d) == [f"({tmp_path}/conf.d/a.conf: Line 4) Unknown keyword 'bogus'"]


def test_include_inside_a_block(tmp_path):
    (tmp_path / "vips.conf").write_text("10.0.0.5/24\n10.0.0.6/24\n")
    cfg, d, _ = parse(
        tmp_path,
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n"
        " virtual_ipaddress {\n  include vips.conf\n }\n}\n",
    )
    assert [str(v.address) for v in cfg.instances["A"].virtual_ipaddress] == [
        "10.0.0.5/24",
        "10.0.0.6/24",
    ]


def test_missing_include_is_an_error_with_file_and_line(tmp_path):
    _, d, path = parse(tmp_path, "\n\ninclude nothing/*.conf\n")
    assert messages(d) == [f"({path}: Line 3) Config files missing 'nothing/*.conf'."]


def test_unknown_keyword_names_file_line_and_suggests(tmp_path):
    _, d, path = parse(
        tmp_path, "vrrp_instance A {\n  interface eth0\n  virtual_router_id 1\n  priorty 100\n}\n"
    )
    assert messages(d) == [f"({path}: Line 4) Unknown keyword 'priorty'; did you mean 'priority' ?"]
    assert d.items[0].severity == ERROR


def test_unknown_top_level_keyword(tmp_path):
    _, d, path = parse(tmp_path, "vrrp_instanse A {\n}\n")
    assert messages(d) == [
        f"({path}: Line 1) Unknown keyword 'vrrp_instanse'; did you mean 'vrrp_instance' ?"
    ]


@pytest.mark.parametrize(
    "text, line, keyword",
    [
        ("virtual_server 10.0.0.1 80 {\n}\n", 1, "virtual_server"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n use_vmac\n}\n", 4, "use_vmac"),
        ("global_defs {\n vrrp_mcast_group4 224.0.0.19\n}\n", 2, "vrrp_mcast_group4"),
    ],
)
def test_known_but_unsupported_keyword_is_fatal(tmp_path, text, line, keyword):
    _, d, path = parse(tmp_path, text)
    assert messages(d)[0] == (
        f"({path}: Line {line}) '{keyword}' is a keepalived keyword that pykeepalived does not support yet"
    )
    assert d.items[0].severity == FATAL


def test_notify_with_user_is_refused_not_ignored(tmp_path):
    _, d, path = parse(
        tmp_path,
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n"
        " notify_master /bin/master.sh nobody\n}\n",
    )
    assert d.items[0].severity == FATAL
    assert messages(d)[0].startswith(
        f"({path}: Line 4) 'notify_master' with a user ('nobody') is not supported yet"
    )


def test_ah_authentication_is_refused(tmp_path):
    _, d, path = parse(
        tmp_path,
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n"
        " authentication {\n  auth_type AH\n  auth_pass x\n }\n}\n",
    )
    assert d.items[0].severity == FATAL
    assert str(d.items[0]).startswith(f"({path}: Line 5) (A) auth_type AH is not supported")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "vrrp_instance A {\n interface eth0\n virtual_router_id 300\n}\n",
            "number '300' outside range [1, 255]",
        ),
        (
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority x\n}\n",
            "invalid number 'x'",
        ),
        (
            "vrrp_instance A {\n interface\n virtual_router_id 1\n}\n",
            "is missing a parameter after keyword `interface`",
        ),
        (
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.300\n }\n}\n",
            "invalid virtual IP address '10.0.0.300'",
        ),
        (
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n track_script {\n  nope\n }\n}\n",
            "(A) track script nope not found, ignoring...",
        ),
    ],
)
def test_value_errors(tmp_path, text, message):
    _, d, _ = parse(tmp_path, text)
    assert any(message in m for m in messages(d)), messages(d)


def test_syntax_error_points_at_the_line(tmp_path):
    _, d, path = parse(tmp_path, "global_defs {\n router_id a\n}\n}\n")
    assert messages(d) == [f"({path}: Line 4) syntax error: unexpected '}}'"]
    _, d, path = parse(tmp_path, "global_defs {\n router_id a\n")
    assert d.items[0].severity == FATAL and "missing '}'" in messages(d)[0]


@pytest.mark.parametrize("version, expected", [(2, 1.0), (3, 0.5)])
def test_fractional_advert_int_only_in_v3(tmp_path, version, expected):
    cfg, d, _ = parse(
        tmp_path,
        f"vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n version {version}\n"
        " advert_int 0.5\n}\n",
    )
    assert cfg.instances["A"].advert_int == expected
    assert bool(d.items) == (version == 2)


def test_v3_with_authentication_warns_and_drops_it(tmp_path):
    cfg, d, _ = parse(
        tmp_path,
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 3\n"
        " authentication {\n  auth_type PASS\n  auth_pass x\n }\n}\n",
    )
    assert cfg.instances["A"].auth_type is None
    assert "cannot use authentication with VRRPv3" in messages(d)[0]


# ------------------------------------------------------------------- -t


def run_t(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pyhaproxy.keepalived.cli", "-t", "-f", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def test_config_test_exit_codes(tmp_path):
    # Interfaces that exist here: none needed for these verdicts (lo is refused).
    ok = "vrrp_instance A {\n interface %s\n virtual_router_id 1\n}\n"
    iface = next(n for _, n in __import__("socket").if_nameindex() if n != "lo")
    cases = {
        "ok.conf": (ok % iface, cli.EXIT_OK),
        "unknown.conf": ((ok % iface).replace("}\n", " frobnicate\n}\n", 1), cli.EXIT_CONFIG_TEST),
        "scripts.conf": (
            'vrrp_script s {\n script "/bin/true"\n}\n' + ok % iface,
            cli.EXIT_CONFIG_TEST_SECURITY,
        ),
        "fatal.conf": ("virtual_server 10.0.0.1 80 {\n}\n", cli.EXIT_CONFIG),
    }
    for name, (text, code) in cases.items():
        (tmp_path / name).write_text(text)
        r = run_t(tmp_path / name)
        assert r.returncode == code, (name, r.stderr)
    assert run_t(tmp_path / "absent.conf").returncode == cli.EXIT_CONFIG
    assert "Unknown keyword 'frobnicate'" in run_t(tmp_path / "unknown.conf").stderr


def test_examples_parse_cleanly():
    assert len(EXAMPLES) == 4
    for path in EXAMPLES:
        d = Diagnostics()
        cfg = load(str(path), d)
        assert [m for m in d.items if m.severity != "warning"] == [], (path, messages(d))
        assert cfg.instances


def test_service_unit_like_debians():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(REPO / "conf" / "pykeepalived.service")
    assert unit["Service"]["Type"] == "notify"
    assert "--dont-fork" in unit["Service"]["ExecStart"]
    assert unit["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"


@pytest.mark.timeout(60)
def test_config_test_verdicts_match_debian_keepalived(make_lab, tmp_path):
    """Same file, same ``-t`` exit status as Debian's keepalived (interfaces exist in the lab)."""
    need_keepalived()
    lab = make_lab(nodes=1, lans=2)
    inst = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.70.0.9\n }\n%s}\n"
    cases = {
        "valid": inst % "",
        "unknown-keyword": inst % " frobnicate 1\n",
        "bad-vrid": inst.replace("virtual_router_id 1", "virtual_router_id 256") % "",
        "missing-interface": inst.replace("eth0", "eth7") % "",
        "loopback": inst.replace("eth0", "lo") % "",
        "scripts-without-security": 'vrrp_script s {\n script "/bin/true"\n}\n'
        + inst % " track_script {\n  s\n }\n",
        **{p.stem: p.read_text() for p in EXAMPLES if "haproxy" not in p.stem},
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.conf"
        path.write_text(text)
        theirs = subprocess.run(
            ["ip", "netns", "exec", lab.nodes[0], KEEPALIVED, "-t", "-f", str(path)],
            capture_output=True,
        ).returncode
        ours = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                lab.nodes[0],
                sys.executable,
                "-m",
                "pyhaproxy.keepalived.cli",
                "-t",
                "-f",
                str(path),
            ],
            capture_output=True,
            cwd=REPO,
        ).returncode
        assert ours == theirs, (name, ours, theirs)


def test_namespace_tests_skip_with_a_reason_when_not_root(monkeypatch):
    from . import netlab

    monkeypatch.setattr(netlab.os, "geteuid", lambda: 1000)
    assert netlab.skip_reason() == "VRRP interop tests need root (network namespaces, raw sockets)"
