"""Pure parts of the health report: HAProxy's status words of a server
(stats.c srv_hlt_st[]), its ``human_time``, the admin form's parameters."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pyhaproxy.checks import status as st
from pyhaproxy.dataplane.backend import DOWN, STOPPING, UP
from pyhaproxy.runtime.health import Book, Record
from pyhaproxy.runtime.htmltable import human_time


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (61, "1m1s"),
        (3600, "1h"),
        (3661, "1h1m"),
        (86400, "1d"),
        (90061, "1d1h"),
        (-1, "?"),
    ],
)
def test_human_time(seconds, text):
    assert human_time(seconds) == text


def _check(health, rise=2, fall=3, enabled=True, agent=False):
    return SimpleNamespace(
        health=health,
        rise=rise,
        fall=fall,
        enabled=enabled,
        agent=agent,
        in_progress=False,
        status=st.L7OK,
        code=200,
        desc="",
        duration=1,
        failed=0,
    )


class _Server:
    """What the book reads of a ServerRT (hashable, as servers are)."""

    def __init__(self, state=UP, maint=False, drain=False):
        self.state, self.maint, self.drain = state, maint, drain
        self.admin = (1 if maint else 0) | (8 if drain else 0)
        self.backend = SimpleNamespace(name="be")
        self.name = "s"
        self.watchers: list = []


_server = _Server


def _status(srv, check=None, agent=None, tracked=None):
    book = Book()
    book.records[srv] = Record(check=check, agent=agent, tracked=tracked)
    if tracked is not None:
        book.records.setdefault(tracked, Record())
    return book.status_text(srv)


@pytest.mark.parametrize(
    ("state", "health", "text"),
    [
        (UP, 4, "UP"),
        (UP, 3, "UP 2/3"),  # health - rise + 1 / fall
        (UP, 2, "UP 1/3"),
        (DOWN, 0, "DOWN"),
        (DOWN, 1, "DOWN 1/2"),  # health / rise
        (STOPPING, 4, "NOLB"),
        (STOPPING, 3, "NOLB 2/3"),
    ],
)
def test_status_words_of_a_checked_server(state, health, text):
    assert _status(_server(state), _check(health)) == text


def test_status_words_of_admin_states_and_agents():
    assert _status(_server()) == "no check"
    assert _status(_server(DOWN)) == "DOWN"
    assert _status(_server(maint=True), _check(4)) == "MAINT"
    assert _status(_server(drain=True), _check(4)) == "DRAIN"
    assert _status(_server(drain=True), _check(3)) == "DRAIN 2/3"
    agent = _check(1, 1, 1, agent=True)
    assert _status(_server(drain=True), _check(4), agent) == "DRAIN (agent)"
    agent.health = 0
    assert _status(_server(DOWN), _check(4), agent) == "DOWN (agent)"
    # a disabled health check: "no check" when up, plain DOWN when down
    assert _status(_server(), _check(4, enabled=False)) == "no check"
    assert _status(_server(DOWN), _check(0, enabled=False)) == "DOWN"


def test_status_of_a_tracking_server_is_its_checked_one():
    tracked = _server(UP)
    book = Book()
    book.records[tracked] = Record(check=_check(3))
    trk = _server(UP)
    book.records[trk] = Record(tracked=tracked)
    assert book.status_text(trk) == "UP 2/3"
    assert book.server_fields(trk, 0)["tracked"].endswith("/s")
