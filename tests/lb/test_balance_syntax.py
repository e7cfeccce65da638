"""``balance``, ``hash-type`` and ``hash-balance-factor`` lines: the same
verdict and message as Debian's haproxy ``-c`` (backend.c
backend_parse_balance reads prefixes and numbers its own way)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.dataplane.conftest import HAPROXY, ROOT

LINES = [
    "balance random()",
    "balance random(0)",
    "balance random(x)",
    "balance random(3",
    "balance random(0x3)",
    "balance random(2)x",
    "balance randomx",
    "balance rdp-cookie()",
    "balance rdp-cookie(",
    "balance rdp-cookiex",
    "balance hdr()",
    "balance hdr(a",
    "balance hdr(a)b",
    "balance hdr(a) foo",
    "balance hdr(a) use_domain_only x",
    "balance url_param",
    "balance url_param u foo",
    "balance url_param u check_post x",
    "balance uri len 0",
    "balance uri len",
    "balance uri depth x",
    "balance uri foo",
    "balance uri len 3x depth 2",
    "balance roundrobin foo",
    "balance rundrobin",
    "hash-type",
    "hash-type foo",
    "hash-type consistent none",  # 'none' came with HAProxy 2.7
    "hash-type map-based none",
    "hash-type consistent sdbm foo",
    "hash-type consistent sdbm avalanche x",
    "hash-balance-factor",
    "hash-balance-factor 50",
    "hash-balance-factor abc",
    "hash-balance-factor 150x",
    "hash-balance-factor 101",
]


def alerts(cmd: list[str], cfg: str) -> list[str]:
    out = subprocess.run([*cmd, "-c", "-f", cfg], capture_output=True, text=True, cwd=ROOT)
    lines = [
        line.split(" : config : ", 1)[1]
        for line in out.stderr.splitlines()
        if ("ALERT" in line or "WARNING" in line) and " : config : " in line
    ]
    # pyhaproxy's own notice for what it accepts but cannot run yet
    return [line for line in lines if "not implemented yet" not in line]


@pytest.mark.parametrize("line", LINES)
def test_line_verdict_matches_haproxy(tmp_path, line):
    if not os.path.exists(HAPROXY):
        pytest.skip("Debian's haproxy is not installed")
    cfg = tmp_path / "b.cfg"
    cfg.write_text(
        "defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n"
        f"  timeout connect 1s\nbackend b\n  {line}\n  server s1 127.0.0.1:1\n"
    )
    assert alerts([sys.executable, "-m", "pyhaproxy"], str(cfg)) == alerts([HAPROXY], str(cfg))


def test_canonical_first_word(tmp_path):
    """What the balancers read: one spelling per algorithm."""
    from pyhaproxy.config.keywords.balance import _parse

    assert _parse(["randomx"]) == "random(2)"
    assert _parse(["random(0x3)"]) == "random(3)"
    assert _parse(["hdr(Host)junk"]) == "hdr(Host)"
    assert _parse(["rdp-cookie"]) == "rdp-cookie(mstshash)"
    assert _parse(["rdp-cookie(user)x"]) == "rdp-cookie(user)"
