"""``track [<backend>/]<server>`` (configuration.txt §5.2 "track"): a server
takes the operational state of the one it tracks.

The state is copied right after the tracked server's own change has been
reported (``call_soon``), so the messages come in HAProxy's order:
``Server be/s1 is DOWN, reason: ...`` then ``Server be/s2 is DOWN via
be/s1. ...``.  Chains are allowed; the end of a chain must have a check.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pyhaproxy.checks import report
from pyhaproxy.dataplane.backend import DOWN, IMAINT, STOPPING


class TrackError(Exception):
    pass


def resolve(spec: str, own_backend: str, backends: dict[str, Any]) -> Any:
    be_name, _, srv_name = spec.rpartition("/")
    be = backends.get(be_name or own_backend)
    if be is None:
        raise TrackError(f"unable to find required proxy '{be_name}' for tracking.")
    for s in be.servers:
        if s.name == srv_name:
            return s
    raise TrackError(f"unable to find required server '{srv_name}' for tracking.")


def follow(tracker: Any, tracked: Any, out: report.Out) -> None:
    loop = asyncio.get_running_loop()
    via = f" via {tracked.backend.name}/{tracked.name}"

    def copy() -> None:
        state = tracked.state
        if tracker.state == state:
            return
        had = report.counts(tracker.backend) != (0, 0)
        tracker.set_state(state)
        if tracker.maint:
            return
        if state == STOPPING:
            be = tracker.backend.name
            report.emit(out, be, "notice", report.stopping_line(tracker, via))
        else:
            report.state_change(out, tracker, state == DOWN, via, had)
        report.still_draining(out, tracker, via)

    tracked.watchers.append(lambda _srv: loop.call_soon(copy))
    tracker.set_state(tracked.state)


def inherit_maint(pairs: list[tuple[Any, Any]]) -> None:
    """At start, a server tracking one ``disabled`` in the configuration is
    in maintenance too (IMAINT, ``MAINT (via be/s1)``), down the chains,
    silently as HAProxy; ``pairs`` are (tracker, tracked) in any order."""
    changed = True
    while changed:
        changed = False
        for tracker, tracked in pairs:
            if tracked.maint and not tracker.admin & IMAINT:
                tracker.set_admin(tracker.admin | IMAINT)
                changed = True
