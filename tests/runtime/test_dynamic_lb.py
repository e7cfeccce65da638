"""A server added at run time takes its turns as in HAProxy: the servers
chosen around ``add server`` / ``enable server`` / ``del server`` compared
with Debian's haproxy, request by request, for the dynamic balancers."""

from __future__ import annotations

import pytest

from tests.dataplane.servers import Background
from tests.lb.compare import Req, both, command, pause


async def _named(reader, writer, stats) -> None:
    """An HTTP server answering its name, ``x``, and closing."""
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
    await writer.drain()


@pytest.fixture
def x_server():
    srv = Background(_named)
    yield srv
    srv.close()


@pytest.mark.parametrize(
    ("balance", "servers"),
    [
        ("balance roundrobin", ["a weight 3", "b weight 2", "c"]),
        ("balance leastconn", ["a", "b weight 2"]),
        ("balance first", ["a id 5", "b id 6"]),  # x takes the lowest free id: 1
    ],
)
def test_added_server_turns_match_haproxy(launcher, x_server, balance, servers):
    one = [Req(), pause()]
    steps = (
        one * 5
        + [command(f"add server be/x 127.0.0.1:{x_server.port} weight 4")]
        + one * 5  # in maintenance: not chosen
        + [command("enable server be/x")]
        + one * 12
        + [command("set weight be/x 1")]
        + one * 6
        + [command("disable server be/x"), command("del server be/x")]
        + one * 5
        # added ready: haproxy 2.6's balancers take it in on its first
        # state change only
        + [command(f"add server be/x 127.0.0.1:{x_server.port} enabled")]
        + one * 8
        + [command("disable server be/x"), command("enable server be/x")]
        + one * 8
    )
    ha, py = both(launcher, balance, servers, steps, stats=True)
    assert ha == py, " ".join(f"{i}:{h}{p}" for i, (h, p) in enumerate(zip(ha, py, strict=False)))
    assert "x" in py
