"""ACLs loaded from files (``-f``) and the ACL commands of the runtime API:
answers compared with Debian's haproxy on the same configuration and
pattern files, and routing that follows ``add acl`` / ``del acl`` /
``commit acl`` at once."""

from __future__ import annotations

import http.client
import os
import re
import subprocess

import pytest

from tests.dataplane.servers import Background, http_app
from tests.helpers import run_pyhaproxy
from tests.runtime.pair import same, start_pair

CFG = """
global
    stats socket {d}/admin.sock level admin
    stats socket {d}/oper.sock level operator
    stats socket {d}/user.sock level user
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    acl local src 127.0.0.1 10.0.0.0/8
    acl fromfile src -f {lists}/nets.lst
    acl hosts hdr(host) -i -f {lists}/hosts.lst
    acl hosts2 hdr(host) -f {lists}/hosts.lst
    acl api path_beg /api /static
    acl hosts3 hdr(host) -f {lists}/hosts.lst -i a.other
    use_backend b if {{ src -f {lists}/nets.lst }} || fromfile
    use_backend b if hosts
    use_backend b if api
    default_backend a
backend a
    server sa 127.0.0.1:{a}
backend b
    server sb 127.0.0.1:{b}
"""

SCRIPT = [
    "show acl",
    "show acl #0",
    "show acl #1",
    "show acl {lists}/nets.lst",
    "show acl #2",
    "show acl #3",
    "show acl #99",
    "show acl zz",
    "get acl #1 10.1.2.3",
    "get acl #1 11.1.2.3",
    "get acl {lists}/nets.lst 192.168.0.1",
    "get acl #3 A.EXAMPLE",
    "get acl #7 A.OTHER",
    "get acl #6 /api/x",
    "get acl #6 /x",
    "get acl",
    "get acl #1",
    "get acl #99 x",
    "add acl",
    "add acl #1",
    "add acl #99 x",
    "add acl #0 1.2.3.4",
    "show acl #0",
    "add acl #0 bad",
    "del acl #0 1.2.3.4",
    "del acl #0 9.9.9.9",
    "del acl #0",
    "del acl #99 x",
    "del acl @1 #6 /api",
    "del acl #2 #0x1234",
    "clear acl",
    "clear acl #99",
    "clear acl #0",
    "show acl #0",
    "prepare acl",
    "prepare acl #1",
    "add acl @1 #1 5.5.5.5",
    "add acl @3 #1 6.6.6.6",
    "show acl @1 #1",
    "show acl #1",
    "get acl #1 5.5.5.5",
    "commit acl",
    "commit acl #1",
    "commit acl @5 #1",
    "commit acl @1 #99",
    "commit acl @1 #1",
    "show acl #1",
    "get acl #1 5.5.5.5",
    "add acl @x #1 1.1.1.1",
    "show acl @0 #1",
    "add acl #3 c.example",
    "get acl #3 C.example",
    "del acl #3 c.example",
    "prepare acl #6",
    "prepare acl #6",
    "add acl @2 #6 /v2",
    "commit acl @1 #6",
    "show acl #6",
    "commit acl @0 #6",
    "clear acl @9 #6",
    "show acl",
    "help add acl",
    "help show acl",
]


def _files(tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "nets.lst").write_text("10.0.0.0/8\n# comment\n\n  192.168.0.1\n")
    (lists / "hosts.lst").write_text("a.example\nB.example\n")
    return lists


@pytest.fixture
def webs():
    servers = [Background(http_app("a")), Background(http_app("b"))]
    yield servers
    for s in servers:
        s.close()


def _pair(launcher, tmp_path, webs, lists):
    a, b = webs
    return start_pair(launcher, tmp_path, CFG, ("port",), a=a.port, b=b.port, lists=lists)


# HAProxy's internal httpclient proxy has two ACLs of its own (acls.py doc)
_HTTPCLIENT = re.compile(r"\d+ \(\) acl 'var' file 'httpclient' line 0\..*\n")


def _mask(text: str, side) -> str:
    text = re.sub(r"0x[0-9a-f]+", "PTR", text)
    text = re.sub(r"file '[^']*\.cfg'", "file 'CFG'", text)
    return _HTTPCLIENT.sub("", text)


def test_acl_commands_answer_as_haproxy(launcher, tmp_path, webs):
    lists = _files(tmp_path)
    sides = _pair(launcher, tmp_path, webs, lists)
    same(sides, [c.format(lists=lists) for c in SCRIPT], mask=_mask)
    # every ACL command is allowed at the user level in haproxy 2.6
    user = ["show acl #0", "add acl #0 7.7.7.7", "get acl #0 7.7.7.7", "del acl #0 7.7.7.7"]
    same(sides, user, level="user", mask=_mask)


def _served(port: int, host: str = "x", path: str = "/") -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Host": host})
    name = conn.getresponse().read().decode().split()[0]
    conn.close()
    return name


def test_acl_changes_route_running_traffic(launcher, tmp_path, webs):
    lists = _files(tmp_path)
    py = _pair(launcher, tmp_path, webs, lists)[1]
    port = py.ports["port"]
    nets = f"{lists}/nets.lst"
    assert _served(port) == "a"
    # the file's reference is shared by "{ src -f }" and "fromfile"
    assert py.cli(f"add acl {nets} 127.0.0.1") == "\n"
    assert _served(port) == "b"
    assert py.cli(f"del acl {nets} 127.0.0.1") == "\n"
    assert _served(port) == "a"
    # hosts.lst, read -i by one ACL and as is by another
    assert _served(port, "A.EXAMPLE") == "b"
    assert py.cli(f"del acl {lists}/hosts.lst a.example") == "\n"
    assert _served(port, "A.EXAMPLE") == "a"
    # an inline pattern list is a reference too (#6: path_beg /api /static)
    assert _served(port, path="/api/v1") == "b"
    assert py.cli("clear acl #6") == "\n"
    assert _served(port, path="/api/v1") == "a"
    # atomic replacement: the new version serves only once committed
    assert py.cli(f"prepare acl {nets}") == "New version created: 1\n\n"
    assert py.cli(f"add acl @1 {nets} 127.0.0.0/8") == "\n"
    assert _served(port) == "a"
    assert py.cli(f"commit acl @1 {nets}") == "\n"
    assert _served(port) == "b"
    assert py.cli(f"show acl {nets}").split(" ", 1)[1] == "127.0.0.0/8\n\n"


@pytest.mark.parametrize(
    ("content", "flags"),
    [
        ("10.0.0.0/8\n", ""),
        ("10.0.0.0/8\n  192.168.0.1  \n", ""),
        ("bad\n", ""),
        (None, ""),
        ("10.0.0.0/8\n", " -m ip"),
    ],
)
def test_pattern_files_checked_like_haproxy(tmp_path, content, flags):
    if not os.path.exists("/usr/sbin/haproxy"):
        pytest.skip("Debian's haproxy is not installed")
    lst = tmp_path / "p.lst"
    if content is not None:
        lst.write_text(content)
    cfg = tmp_path / "c.cfg"
    cfg.write_text(
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
        "    timeout connect 1s\nfrontend f\n    bind 127.0.0.1:1\n"
        f"    acl a src -f {lst}{flags}\n    http-request deny if a\n    default_backend b\n"
        "backend b\n    server s 127.0.0.1:2\n"
    )
    ref = subprocess.run(
        ["/usr/sbin/haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=20
    )
    res = run_pyhaproxy("-c", "-f", str(cfg))
    assert res.returncode == ref.returncode, res.stderr

    def alerts(text: str) -> list[str]:
        return [re.sub(r"\(\d+\)", "", x) for x in text.splitlines() if "ALERT" in x]

    assert alerts(res.stderr)[:1] == alerts(ref.stderr)[:1]
