"""A server's admin state, forced or inherited along ``track`` chains.

HAProxy keeps maintenance and drain as bits (``ServerRT.admin``: FMAINT
FDRAIN forced by the runtime API or the stats page, IMAINT IDRAIN
inherited from the tracked server).  ``ready``, ``drain`` and ``maint``
set or clear the forced bits in HAProxy's order (srv_adm_set_*); each
change goes down to the servers that track this one, as the inherited bit,
depth first, the last configured tracker first -- and stops at a server
that already was (or still is) in that mode.  The messages are Debian
haproxy 2.6's, compared side by side in tests/runtime/test_track_admin.py:
``... is going DOWN for maintenance via be/s1. ...``, ``... is UP/DRAIN
(leaving maintenance).``, ``... remains in forced drain mode.`` ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import report
from pyhaproxy.dataplane.backend import (
    DOWN,
    DRAIN_BITS,
    FDRAIN,
    FMAINT,
    IDRAIN,
    IMAINT,
    MAINT_BITS,
)

if TYPE_CHECKING:
    from pyhaproxy.runtime.health import Book

# srv_adm_set_ready / _drain / _maint: (set, clear) forced bits, in order
_STEPS = {
    "ready": ((), (FDRAIN, FMAINT)),
    "drain": ((FDRAIN,), (FMAINT,)),
    "maint": ((FMAINT,), (FDRAIN,)),
}


def change(book: Book, srv: Any, state: str) -> None:
    """``set server ... state ready|drain|maint``, ``enable/disable server``
    and the page's actions, with their messages."""
    sets, clears = _STEPS[state]
    for bit in sets:
        _set(book, srv, bit)
    for bit in clears:
        _clear(book, srv, bit)


def force(book: Book, srv: Any, bit: int, on: bool) -> bool:
    """One forced bit (FMAINT or FDRAIN) set or cleared, as the stats
    page's disable/enable/stop/start do; False when it already was."""
    if bool(srv.admin & bit) == on:
        return False
    (_set if on else _clear)(book, srv, bit)
    return True


def _trackers(book: Book, srv: Any) -> list[Any]:
    """The servers tracking ``srv``, the last configured first (HAProxy
    links each new tracker at the head of the list)."""
    return [t for t, rec in reversed(list(book.records.items())) if rec.tracked is srv]


def _via(book: Book, srv: Any) -> str:
    tracked = book.rec(srv).tracked
    return f" via {tracked.backend.name}/{tracked.name}" if tracked is not None else ""


def _say(book: Book, srv: Any, text: str) -> None:
    if book.out is not None:
        report.emit(book.out, srv.backend.name, "notice", text)


def _last_gone(book: Book, srv: Any, had: bool) -> None:
    """The change of ``srv`` took its backend's last usable server."""
    be = srv.backend
    if book.out is not None and had and report.counts(be) == (0, 0):
        report.emit(
            book.out,
            be.name,
            "emerg",
            f"backend '{be.name}' has no server available!",
            f"backend {be.name} has no server available!",
        )


def _who(srv: Any) -> str:
    return f"{'Backup Server' if srv.backup else 'Server'} {srv.backend.name}/{srv.name}"


def _set(book: Book, srv: Any, bit: int) -> None:
    prev = srv.admin
    if prev & bit:
        return
    mask = MAINT_BITS if bit & MAINT_BITS else DRAIN_BITS
    was_down = srv.state == DOWN
    had = report.counts(srv.backend) != (0, 0)
    if mask == MAINT_BITS and not prev & MAINT_BITS:
        book.pause(srv)
    srv.set_admin(prev | bit)
    via = _via(book, srv) if bit & (IMAINT | IDRAIN) else ""
    if mask == MAINT_BITS:
        if prev & MAINT_BITS:
            return  # already in maintenance: nothing changes below
        if was_down:
            _say(book, srv, f"{_who(srv)} was DOWN and now enters maintenance{via}.")
        else:
            line = report.server_line(srv, True, "")
            _say(book, srv, line.replace(" is DOWN.", f" is going DOWN for maintenance{via}.", 1))
            _last_gone(book, srv, had)
    elif prev & DRAIN_BITS:
        _still_draining(book, srv)
        return
    elif not srv.maint:
        line = report.server_line(srv, srv.state == DOWN, "")
        words = " is DOWN." if srv.state == DOWN else " is UP."
        _say(book, srv, line.replace(words, f" enters drain state{via}.", 1))
        _last_gone(book, srv, had)
    inherited = IMAINT if mask == MAINT_BITS else IDRAIN
    for tracker in _trackers(book, srv):
        _set(book, tracker, inherited)


def _clear(book: Book, srv: Any, bit: int) -> None:
    prev = srv.admin
    if not prev & bit:
        return
    now = prev & ~bit
    leaving_maint = bool(bit & MAINT_BITS) and not now & MAINT_BITS
    if leaving_maint:
        book.resume(srv)
    srv.set_admin(now)
    if now & MAINT_BITS:
        if bit == FMAINT:
            _say(
                book,
                srv,
                f"{_who(srv)} is leaving forced maintenance but remains in maintenance"
                f"{_via(book, srv)}.",
            )
        elif bit == IMAINT:
            _say(book, srv, f"{_who(srv)} remains in forced maintenance.")
        if bit & MAINT_BITS:
            return
    elif leaving_maint:
        up = "DOWN" if srv.state == DOWN else "UP"
        ready = "DRAIN" if now & DRAIN_BITS else "READY"
        why = "leaving forced maintenance" if bit == FMAINT else "leaving maintenance"
        _say(book, srv, f"{_who(srv)} is {up}/{ready} ({why}).")
        if now & DRAIN_BITS:
            _still_draining(book, srv)
    elif now & DRAIN_BITS:
        _still_draining(book, srv)
        return
    else:
        up = "DOWN" if srv.state == DOWN else "UP"
        _say(book, srv, f"{_who(srv)} is {up} (leaving forced drain).")
    if bit & DRAIN_BITS and now & DRAIN_BITS:
        return  # still draining (its maintenance hid it): nothing below changes
    inherited = IMAINT if bit & MAINT_BITS else IDRAIN
    for tracker in _trackers(book, srv):
        _clear(book, tracker, inherited)


def _still_draining(book: Book, srv: Any) -> None:
    if book.out is not None:
        report.still_draining(book.out, srv, _via(book, srv))


__all__ = ["change", "force"]
