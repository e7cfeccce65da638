"""``backup`` servers, ``option allbackups`` and weights 0, compared with
Debian's haproxy for several algorithms."""

from __future__ import annotations

import pytest

from tests.lb.compare import both, command, mixed

SERVERS = ["a", "b weight 2", "k1 backup weight 2", "k2 backup", "k3 backup weight 3"]


@pytest.mark.parametrize(
    "balance",
    [
        "balance roundrobin",
        "balance static-rr",
        "balance uri",
        "balance leastconn",
        "balance first",
    ],
)
@pytest.mark.parametrize("allbackups", [False, True])
def test_backups_take_over_like_haproxy(launcher, balance, allbackups):
    extra = "    option allbackups\n" if allbackups else ""
    steps = mixed(6) + [command("disable server be/a"), command("disable server be/b")]
    steps += mixed(12) + [command("disable server be/k1")] + mixed(8)
    steps += [command("enable server be/k1"), command("set weight be/k2 0")] + mixed(8)
    steps += [command("enable server be/b")] + mixed(6)
    ha, py = both(launcher, balance, SERVERS, steps, extra, stats=True)
    assert ha == py
