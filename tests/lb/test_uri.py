"""``balance uri [len N] [depth N] [whole] [path-only]`` with every hash
function and both hash types, compared with Debian's haproxy."""

from __future__ import annotations

import pytest

from tests.lb.compare import both, command, mixed

SERVERS = ["a weight 3", "b", "c weight 2", "d weight 5 id 7", "e"]


@pytest.mark.parametrize(
    "options", ["", "whole", "len 4", "depth 1", "depth 2 len 12", "path-only", "path-only whole"]
)
def test_uri_options_match_haproxy(launcher, options):
    ha, py = both(launcher, f"balance uri {options}", SERVERS, mixed(30))
    assert ha == py


@pytest.mark.parametrize(
    "hash_type",
    [
        "map-based djb2",
        "map-based wt6",
        "map-based crc32",
        "map-based sdbm avalanche",
        "consistent",
        "consistent djb2",
        "consistent wt6",
        "consistent crc32 avalanche",
    ],
)
def test_uri_hash_types_match_haproxy(launcher, hash_type):
    ha, py = both(launcher, "balance uri", SERVERS, mixed(30), f"    hash-type {hash_type}\n")
    assert ha == py


@pytest.mark.parametrize("hash_type", ["map-based", "consistent"])
def test_uri_weight_and_state_changes_match_haproxy(launcher, hash_type):
    steps = mixed(20) + [command("set server be/c state maint")] + mixed(20)
    steps += [command("set server be/c state ready"), command("set weight be/d 0")] + mixed(20)
    steps += [command("set weight be/d 100%")] + mixed(12)
    ha, py = both(
        launcher, "balance uri", SERVERS, steps, f"    hash-type {hash_type}\n", stats=True
    )
    assert ha == py


def test_uri_in_tcp_mode_falls_back_to_roundrobin(launcher):
    ha, py = both(launcher, "balance uri", SERVERS, mixed(20), mode="tcp")
    assert ha == py


@pytest.mark.parametrize("hash_type", ["map-based", "consistent"])
def test_uri_redispatch_from_a_dead_server_matches_haproxy(launcher, hash_type):
    """A refused connection is retried elsewhere as HAProxy does: the ring
    skips the failed server, the map-based table picks it again."""
    extra = f"    hash-type {hash_type}\n    option redispatch\n    retries 1\n"
    servers = ["a", "!dead weight 3", "c weight 2", "d"]
    ha, py = both(launcher, "balance uri", servers, mixed(24), extra)
    assert ha == py


def test_l7_hash_in_tcp_mode_warns_as_haproxy(tmp_path):
    import os
    import subprocess
    import sys

    if not os.path.exists("/usr/sbin/haproxy"):
        pytest.skip("Debian's haproxy is not installed")
    cfg = tmp_path / "t.cfg"
    cfg.write_text(
        "defaults\n  mode tcp\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n"
        "backend b\n  balance url_param x\n  server s1 127.0.0.1:1\n"
        "frontend f\n  bind 127.0.0.1:1234\n  default_backend b\n"
    )

    def warnings(cmd: list[str]) -> list[str]:
        out = subprocess.run([*cmd, "-c", "-f", str(cfg)], capture_output=True, text=True)
        return [line.split(" : ", 1)[1] for line in out.stderr.splitlines() if "WARNING" in line]

    ours = warnings([sys.executable, "-m", "pyhaproxy"])
    assert ours == warnings(["/usr/sbin/haproxy"])
    assert "Layer 7 hash not possible for backend 'b'" in ours[0]
