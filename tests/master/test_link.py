"""The master-worker link without processes: frames, and the master's
relay (pyhaproxy/master/link.py) between fake workers on socketpairs."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import pytest

from pyhaproxy.master.link import FrameError, Frames, Hub, frame


def test_frames_decode_across_reads():
    data = frame(["ready"]) + frame(["state", [["be", "s1", {"maint": True}]]])
    dec = Frames()
    got = []
    for i in range(len(data)):  # one byte at a time
        got += dec.feed(data[i : i + 1])
    assert got == [["ready"], ["state", [["be", "s1", {"maint": True}]]]]
    assert dec.buf == bytearray()


def test_frame_too_large_is_an_error():
    with pytest.raises(FrameError):
        Frames().feed(b"\xff\xff\xff\xff")


@dataclass(eq=False)
class Gen:
    state: dict = field(default_factory=dict)


@dataclass(eq=False)
class W:
    pid: int
    generation: Gen
    link: socket.socket
    peer: socket.socket
    ready: bool = True
    out: bytearray = field(default_factory=bytearray)

    def read(self) -> list[Any]:
        self.peer.setblocking(False)
        dec = Frames()
        got: list[Any] = []
        while True:
            try:
                data = self.peer.recv(65536)
            except BlockingIOError:
                return got
            got += dec.feed(data)


class FakeMaster:
    def __init__(self) -> None:
        self.workers: dict[int, W] = {}

    def want_write(self, w: W, on: bool) -> None:
        pass

    def add(self, pid: int, gen: Gen, ready: bool = True) -> W:
        a, b = socket.socketpair()
        a.setblocking(False)
        w = W(pid, gen, a, b, ready)
        self.workers[pid] = w
        return w


@pytest.fixture
def hub():
    m = FakeMaster()
    yield m, Hub(m)
    for w in m.workers.values():
        w.link.close()
        w.peer.close()


def test_state_relayed_to_the_generation_and_kept_for_newcomers(hub):
    m, h = hub
    gen, other = Gen(), Gen()
    one, two, old = m.add(1, gen), m.add(2, gen), m.add(3, other)
    h.received(one, ["state", [["be", "s1", {"maint": True}]]])
    h.received(one, ["state", [["be", "s1", {"uweight": 0}]]])
    assert two.read() == [
        ["state", [["be", "s1", {"maint": True}]]],
        ["state", [["be", "s1", {"uweight": 0}]]],
    ]
    assert one.read() == [] and old.read() == []
    late = m.add(4, gen, ready=False)
    h.started(late)
    assert late.read() == [["snapshot", [["be", "s1", {"maint": True, "uweight": 0}]]]]


def test_repl_done_once_every_ready_worker_acked(hub):
    m, h = hub
    gen = Gen()
    one, two, three = m.add(1, gen), m.add(2, gen), m.add(3, gen)
    starting = m.add(4, gen, ready=False)
    h.received(two, ["repl", 7, "cli", 3, "set weight be/s1 0"])
    for w in (one, three, starting):  # the one starting gets it, is not waited for
        assert w.read() == [["repl", 2, 7, "cli", 3, "set weight be/s1 0"]]
    h.received(one, ["ack", 2, 7, ""])
    assert two.read() == []
    h.received(three, ["ack", 2, 7, "No such server.\n"])
    assert two.read() == [["done", 7, [[1, ""], [3, "No such server.\n"]]]]


def test_gather_ends_when_a_worker_dies(hub):
    m, h = hub
    gen = Gen()
    one, two, three = m.add(1, gen), m.add(2, gen), m.add(3, gen)
    h.received(one, ["gather", 1])
    assert two.read() == [["gather", 1, 1]] and three.read() == [["gather", 1, 1]]
    h.received(two, ["counters", 1, 1, {"fe": {}}])
    del m.workers[3]
    h.gone(3)
    assert one.read() == [["gathered", 1, [{"fe": {}}]]]
    assert h.pending == []


def test_alone_answered_at_once(hub):
    m, h = hub
    one = m.add(1, Gen())
    h.received(one, ["gather", 5])
    h.received(one, ["repl", 6, "web", "s=s1&action=maint&b=be"])
    assert one.read() == [["gathered", 5, []], ["done", 6, []]]
