"""Fixtures of the logging tests: the process launcher of the data-plane
tests and datagram receivers standing in for syslog."""

from __future__ import annotations

import socket
import time

import pytest

from tests.dataplane.conftest import launcher  # noqa: F401  (fixture)


class Receiver:
    """A datagram socket collecting what a proxy sends to its log target."""

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(path)
            self.address = path
        self.sock.settimeout(0.1)
        self.lines: list[str] = []

    def collect(self, count: int, timeout: float = 5.0, settle: float = 0.3) -> list[str]:
        """Wait for ``count`` messages (then ``settle`` more seconds for
        unexpected extra ones); all messages received so far."""
        deadline = time.monotonic() + timeout
        quiet_until = None
        while True:
            now = time.monotonic()
            if len(self.lines) >= count:
                quiet_until = quiet_until or now + settle
                if now >= quiet_until:
                    break
            elif now >= deadline:
                break
            try:
                self.lines.append(self.sock.recv(65536).decode())
            except TimeoutError:
                pass
        return self.lines

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(path: str | None = None) -> Receiver:
        r = Receiver(path)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
