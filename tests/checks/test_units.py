"""Unit tests without sockets: the slow start's steps (weights by balance
algorithm, ``maxconn``), the traffic analysis's counting (observe.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pyhaproxy.checks import observe, slowstart
from pyhaproxy.checks import status as st
from pyhaproxy.dataplane.backend import DOWN, UP
from pyhaproxy.runtime.stats import srv_throttle
from tests.lb.fakes import farm


class Clock:
    """A loop whose time the test moves; ``call_later`` callbacks run when
    ``advance`` passes their time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.later: list[tuple[float, Any]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, fn: Any) -> Any:
        entry = [self.now + delay, fn, False]
        self.later.append(entry)  # type: ignore[arg-type]
        return SimpleNamespace(cancel=lambda: entry.__setitem__(2, True))

    def call_soon(self, fn: Any, *args: Any) -> None:
        fn(*args)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [e for e in self.later if e[0] <= self.now and not e[2]]
        self.later = [e for e in self.later if e not in due]
        for e in due:
            e[1]()


def _warm(balance: str, **server: int) -> tuple[Any, Any, Clock, Any]:
    extra = " ".join(f"{k} {v}" for k, v in server.items())
    lb, (s1, s2) = farm([f"s1 weight 10 {extra}", "s2 weight 10"], balance=(balance,))
    backend = SimpleNamespace(
        lb=lb, servers=[s1, s2], name="be", grab=lambda srv: grabbed.append(srv)
    )
    grabbed: list[Any] = []
    clock = Clock()
    for s in (s1, s2):
        s.backend, s.loop = backend, clock
    warm = slowstart.Warmup(s1, 4000)
    return s1, lb, clock, (warm, grabbed)


def test_no_slowstart_at_start() -> None:
    s1, lb, _, _ = _warm("roundrobin")
    assert s1.ramp == 0 and s1.weight == 10 and lb.cur_ew[id(s1)] == 160


@pytest.mark.parametrize(
    ("balance", "eweights"),
    [
        # dynamic: uweight * (16 * t + 4) / 4, then full (160)
        ("roundrobin", [10, 50, 90, 130, 160]),
        ("leastconn", [10, 50, 90, 130, 160]),
        # static map: the weight is not throttled (HAProxy's BE_LB_PROP_DYN)
        ("static-rr", [1, 1, 1, 1, 1]),
    ],
)
def test_weight_grows_each_second(balance: str, eweights: list[int]) -> None:
    s1, lb, clock, _ = _warm(balance)
    s1.set_state(DOWN)
    s1.set_state(UP)
    got = [lb.cur_ew[id(s1)]]
    for _ in range(4):
        clock.advance(1.0)
        got.append(lb.cur_ew[id(s1)])
    assert got == eweights
    assert s1.ramp == 0 and s1.weight == 10


def test_shown_weight_and_maxconn_ramp() -> None:
    s1, _, clock, (warm, grabbed) = _warm("roundrobin", maxconn=20)
    s1.set_state(DOWN)
    s1.set_maint(True)
    s1.set_state(UP)
    assert s1.ramp == 0  # still in maintenance
    s1.set_maint(False)  # leaving maintenance starts it too
    seen = [(s1.weight, s1.maxconn, srv_throttle(s1) if s1.ramp else None)]
    for _ in range(4):
        clock.advance(1.0)
        seen.append((s1.weight, s1.maxconn, srv_throttle(s1) if s1.ramp else None))
    # maxconn: max(1, 20 * (100 * t / 4)%); the stats' weight: ceil(eweight / 16),
    # throttle: (100 * eweight + 15) / (16 * uweight)
    assert seen == [(1, 1, 6), (4, 5, 31), (6, 10, 56), (9, 15, 81), (10, 20, None)]
    assert grabbed and all(s is s1 for s in grabbed)  # queued streams may go


def test_going_down_ends_the_warmup() -> None:
    s1, lb, clock, _ = _warm("roundrobin", maxconn=20)
    s1.set_state(DOWN)
    s1.set_state(UP)
    clock.advance(1.0)
    assert s1.ramp and s1.maxconn == 5
    s1.set_state(DOWN)
    assert s1.ramp == 0 and s1.maxconn == 20
    clock.advance(5.0)
    assert s1.ramp == 0 and lb.cur_ew[id(s1)] == 160


class FakeCheck:
    def __init__(self) -> None:
        self.rise, self.fall, self.health = 2, 3, 4
        self.fastinter = 0
        self.loop = None
        self.results: list[tuple[Any, str]] = []
        self.duration = 0
        self._stopped = False

    def set_status(self, status: Any, code: int, desc: str) -> None:
        self.results.append((status, desc))
        self.health = max(0, self.health - 1)


@pytest.mark.parametrize(
    ("mode", "codes", "errors_left"),
    [
        # layer4: connections only; a success clears the count
        ("layer4", [observe.L4_ERR, observe.L4_ERR, observe.L4_OK, observe.L4_ERR], 1),
        ("layer4", [observe.HTTP_STS] * 5, 0),  # not a layer4 matter
        # layer7: a valid answer clears, a failed connection counts
        ("layer7", [observe.HTTP_STS, observe.L4_ERR], 2),
        ("layer7", [observe.HTTP_STS, observe.HTTP_OK, observe.L4_OK], 0),
    ],
)
def test_consecutive_errors_are_counted(mode: str, codes: list[int], errors_left: int) -> None:
    obs = observe.Observer(FakeCheck(), mode, limit=10)  # type: ignore[arg-type]
    for code in codes:
        obs(code)
    assert obs.errors == errors_left


@pytest.mark.parametrize(
    ("on_error", "health", "set_status"),
    [
        ("fail-check", 3, True),
        ("sudden-death", 2, True),  # rise + 1, then the failed check
        ("mark-down", 1, True),  # rise, then the failed check (0 in set_status)
        ("fastinter", 4, False),
    ],
)
def test_on_error_at_the_limit(on_error: str, health: int, set_status: bool) -> None:
    check = FakeCheck()
    obs = observe.Observer(check, "layer4", limit=3, on_error=on_error)  # type: ignore[arg-type]
    for _ in range(3):
        obs(observe.L4_ERR)
    assert check.health == health
    assert obs.errors == 0 and obs.failed_hana == 1
    expected = "Detected 3 consecutive errors, last one was: L4 unsuccessful connection"
    assert check.results == ([(st.HANA, expected)] if set_status else [])
    assert check.duration == (-1 if set_status else 0)


def test_valid_http_statuses() -> None:
    ok = [
        c
        for c in (100, 200, 404, 499, 500, 501, 502, 503, 504, 505)
        if observe.http_status(c) == observe.HTTP_OK
    ]
    assert ok == [100, 200, 404, 499, 501, 505]
