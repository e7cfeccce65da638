"""The VRRP state machine of one virtual router, as data (RFC 5798 §6.4, §6.3).

Pure: ``step(router, event) -> (router, actions)``; no clock, no socket.  The
caller passes the time in the events that need it and performs the actions
(send an advert, arm a timer, add/remove the VIPs, run notify scripts).

``TRANSITIONS`` is the whole machine: for each (state, event kind) the rows
are tried in order; the first whose guard holds gives the target state and the
effects.  A (state, event) pair without rows is ignored (the event is
meaningless there, e.g. an advert in FAULT).

Invariants:
  * only ``step`` changes ``Router.state``;
  * ``ENTER`` is emitted exactly when the state changes, after the effects;
  * a router leaving MASTER removes its addresses; one entering MASTER adds
    them and announces them (gratuitous ARP / unsolicited NA).

FAULT and STOP are keepalived's states beside RFC 5798's Initialize, Backup
and Master: FAULT while a weight-0 tracked script fails or a tracked interface
is down; STOP after shutdown.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import ip_address

from pyhaproxy.keepalived.model import IPAddress

__all__ = [
    "State",
    "Router",
    "Startup",
    "Shutdown",
    "MasterDownTimer",
    "AdverTimer",
    "AdvertReceived",
    "FaultOn",
    "FaultOff",
    "GroupMaster",
    "GroupBackup",
    "SendAdvert",
    "StartAdverTimer",
    "StartMasterDownTimer",
    "StopTimers",
    "AddAddresses",
    "RemoveAddresses",
    "Announce",
    "Enter",
    "TRANSITIONS",
    "step",
    "master_down_interval",
    "skew_time",
]

PRIORITY_OWNER = 255  # RFC 5798 §5.2.4: the IP address owner
PRIORITY_STOP = 0  # RFC 5798 §5.2.4: the master stops participating


class State(enum.Enum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"
    STOP = "STOP"


# ------------------------------------------------------------------ the router


@dataclass(frozen=True, slots=True)
class Router:
    """One virtual router's state variables (RFC 5798 §6.1, §6.2).

    ``priority`` is the effective priority (base + tracking weights);
    intervals are in centiseconds, ``preempt_delay`` in seconds,
    ``preempt_until`` the absolute time before which a lower-priority master
    is still accepted (``preempt_delay``).
    """

    priority: int = 100
    advert_int: int = 100
    version: int = 3
    preempt: bool = True
    preempt_delay: float = 0.0
    own_ip: IPAddress = ip_address("0.0.0.0")
    state: State = State.INIT
    master_adver_int: int = 100
    preempt_until: float | None = None


def skew_time(r: Router) -> float:
    """RFC 5798 §6.1: ((256 - Priority) * Master_Adver_Interval) / 256, in seconds."""
    return ((256 - r.priority) * r.master_adver_int / 256) / 100


def master_down_interval(r: Router) -> float:
    """RFC 5798 §6.1: (3 * Master_Adver_Interval) + Skew_time, in seconds."""
    return 3 * r.master_adver_int / 100 + skew_time(r)


# ---------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Startup:
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


@dataclass(frozen=True, slots=True)
class MasterDownTimer:
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class AdverTimer:
    pass


@dataclass(frozen=True, slots=True)
class AdvertReceived:
    """A valid advertisement for this VRID (already checked per RFC 5798 §7.1)."""

    priority: int
    src: IPAddress
    interval: int = 100  # centiseconds
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class FaultOn:
    pass


@dataclass(frozen=True, slots=True)
class FaultOff:
    pass


@dataclass(frozen=True, slots=True)
class GroupMaster:
    """Another member of the sync group became MASTER."""


@dataclass(frozen=True, slots=True)
class GroupBackup:
    """Another member of the sync group left MASTER."""


Event = (
    Startup
    | Shutdown
    | MasterDownTimer
    | AdverTimer
    | AdvertReceived
    | FaultOn
    | FaultOff
    | GroupMaster
    | GroupBackup
)

# --------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class SendAdvert:
    priority: int


@dataclass(frozen=True, slots=True)
class StartAdverTimer:
    delay: float  # seconds


@dataclass(frozen=True, slots=True)
class StartMasterDownTimer:
    delay: float  # seconds


@dataclass(frozen=True, slots=True)
class StopTimers:
    pass


@dataclass(frozen=True, slots=True)
class AddAddresses:
    pass


@dataclass(frozen=True, slots=True)
class RemoveAddresses:
    pass


@dataclass(frozen=True, slots=True)
class Announce:
    """Gratuitous ARP (IPv4) / unsolicited neighbour advertisement (IPv6)."""


@dataclass(frozen=True, slots=True)
class Enter:
    state: State
    reason: str = ""


Action = (
    SendAdvert
    | StartAdverTimer
    | StartMasterDownTimer
    | StopTimers
    | AddAddresses
    | RemoveAddresses
    | Announce
    | Enter
)

# ---------------------------------------------------------------------- guards

Guard = Callable[[Router, Event], bool]


def always(r: Router, e: Event) -> bool:
    return True


def is_owner(r: Router, e: Event) -> bool:
    return r.priority == PRIORITY_OWNER


def stop_advert(r: Router, e: AdvertReceived) -> bool:
    return e.priority == PRIORITY_STOP


def master_acceptable(r: Router, e: AdvertReceived) -> bool:
    """RFC 5798 §6.4.2: accept the master if preemption is off or it is not lower.

    With ``preempt_delay`` a lower-priority master is still accepted until
    ``preempt_until`` (keepalived.conf(5) ``preempt_delay``).
    """
    if not r.preempt or e.priority >= r.priority:
        return True
    return r.preempt_until is not None and e.now < r.preempt_until


def lower_master_starts_delay(r: Router, e: AdvertReceived) -> bool:
    return r.preempt and r.preempt_delay > 0 and r.preempt_until is None and e.priority < r.priority


def other_is_better(r: Router, e: AdvertReceived) -> bool:
    """RFC 5798 §6.4.3: higher priority, or equal priority and higher primary address."""
    if e.priority != r.priority:
        return e.priority > r.priority
    return e.src.packed > r.own_ip.packed


# --------------------------------------------------------------------- effects

Effect = Callable[[Router, Event], tuple[Router, list[Action]]]


def _down_timer(r: Router) -> StartMasterDownTimer:
    return StartMasterDownTimer(master_down_interval(r))


def become_master(r: Router, e: Event) -> tuple[Router, list[Action]]:
    """RFC 5798 §6.4.1 / §6.4.2: send an advert, announce, arm the Adver_Timer."""
    r = replace(r, preempt_until=None)
    return r, [
        StopTimers(),
        SendAdvert(r.priority),
        AddAddresses(),
        Announce(),
        StartAdverTimer(r.advert_int / 100),
    ]


def become_backup(r: Router, e: Event) -> tuple[Router, list[Action]]:
    """RFC 5798 §6.4.1: Master_Adver_Interval = Advertisement_Interval; arm Master_Down."""
    now = getattr(e, "now", 0.0)
    until = now + r.preempt_delay if r.preempt_delay > 0 and isinstance(e, Startup) else None
    r = replace(r, master_adver_int=r.advert_int, preempt_until=until)
    return r, [StopTimers(), _down_timer(r)]


def master_to_backup(r: Router, e: AdvertReceived) -> tuple[Router, list[Action]]:
    """RFC 5798 §6.4.3: cancel Adver_Timer, learn the interval, arm Master_Down."""
    r = replace(r, master_adver_int=_learnt_interval(r, e))
    return r, [StopTimers(), RemoveAddresses(), _down_timer(r)]


def group_to_backup(r: Router, e: Event) -> tuple[Router, list[Action]]:
    r = replace(r, master_adver_int=r.advert_int)
    return r, [StopTimers(), RemoveAddresses(), _down_timer(r)]


def _learnt_interval(r: Router, e: AdvertReceived) -> int:
    # RFC 5798 §6.4.2: v3 learns the master's interval; v2 has a fixed one.
    return e.interval if r.version == 3 and e.interval > 0 else r.advert_int


def reset_master_down(r: Router, e: AdvertReceived) -> tuple[Router, list[Action]]:
    """RFC 5798 §6.4.2: Master_Adver_Interval = advert's; reset Master_Down_Timer."""
    r = replace(r, master_adver_int=_learnt_interval(r, e))
    return r, [_down_timer(r)]


def start_preempt_delay(r: Router, e: AdvertReceived) -> tuple[Router, list[Action]]:
    r = replace(r, preempt_until=e.now + r.preempt_delay)
    return reset_master_down(r, e)


def master_down_skew(r: Router, e: AdvertReceived) -> tuple[Router, list[Action]]:
    """RFC 5798 §6.4.2: priority 0 received: Master_Down_Timer = Skew_Time."""
    return r, [StartMasterDownTimer(skew_time(r))]


def send_advert(r: Router, e: Event) -> tuple[Router, list[Action]]:
    """RFC 5798 §6.4.3: send an advert, reset the Adver_Timer."""
    return r, [SendAdvert(r.priority), StartAdverTimer(r.advert_int / 100)]


def release(r: Router, e: Event) -> tuple[Router, list[Action]]:
    """RFC 5798 §6.4.3 Shutdown: cancel the timer, send an advert with priority 0."""
    return r, [StopTimers(), SendAdvert(PRIORITY_STOP), RemoveAddresses()]


def stop_timers(r: Router, e: Event) -> tuple[Router, list[Action]]:
    return r, [StopTimers()]


def ignore(r: Router, e: Event) -> tuple[Router, list[Action]]:
    return r, []


# ------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class Row:
    state: State
    event: type
    guard: Guard
    target: State
    effect: Effect
    cite: str


S = State
TRANSITIONS: tuple[Row, ...] = (
    Row(S.INIT, Startup, is_owner, S.MASTER, become_master, "RFC 5798 §6.4.1"),
    Row(S.INIT, Startup, always, S.BACKUP, become_backup, "RFC 5798 §6.4.1"),
    Row(S.INIT, FaultOn, always, S.FAULT, stop_timers, "keepalived FAULT"),
    Row(S.BACKUP, MasterDownTimer, always, S.MASTER, become_master, "RFC 5798 §6.4.2"),
    Row(S.BACKUP, AdvertReceived, stop_advert, S.BACKUP, master_down_skew, "RFC 5798 §6.4.2"),
    Row(
        S.BACKUP,
        AdvertReceived,
        lower_master_starts_delay,
        S.BACKUP,
        start_preempt_delay,
        "keepalived preempt_delay",
    ),
    Row(
        S.BACKUP, AdvertReceived, master_acceptable, S.BACKUP, reset_master_down, "RFC 5798 §6.4.2"
    ),
    Row(S.BACKUP, AdvertReceived, always, S.BACKUP, ignore, "RFC 5798 §6.4.2 (preempt)"),
    Row(S.BACKUP, Shutdown, always, S.STOP, stop_timers, "RFC 5798 §6.4.2"),
    Row(S.BACKUP, FaultOn, always, S.FAULT, stop_timers, "keepalived FAULT"),
    Row(S.BACKUP, GroupMaster, always, S.MASTER, become_master, "keepalived vrrp_sync_group"),
    Row(S.MASTER, AdverTimer, always, S.MASTER, send_advert, "RFC 5798 §6.4.3"),
    Row(S.MASTER, AdvertReceived, stop_advert, S.MASTER, send_advert, "RFC 5798 §6.4.3"),
    Row(S.MASTER, AdvertReceived, other_is_better, S.BACKUP, master_to_backup, "RFC 5798 §6.4.3"),
    Row(S.MASTER, AdvertReceived, always, S.MASTER, ignore, "RFC 5798 §6.4.3"),
    Row(S.MASTER, Shutdown, always, S.STOP, release, "RFC 5798 §6.4.3"),
    Row(S.MASTER, FaultOn, always, S.FAULT, release, "keepalived FAULT"),
    Row(S.MASTER, GroupBackup, always, S.BACKUP, group_to_backup, "keepalived vrrp_sync_group"),
    Row(S.FAULT, FaultOff, is_owner, S.MASTER, become_master, "keepalived FAULT"),
    Row(S.FAULT, FaultOff, always, S.BACKUP, become_backup, "keepalived FAULT"),
    Row(S.FAULT, Shutdown, always, S.STOP, stop_timers, "keepalived FAULT"),
)

_INDEX: dict[tuple[State, type], tuple[Row, ...]] = {}
for _row in TRANSITIONS:
    _INDEX[(_row.state, _row.event)] = (*_INDEX.get((_row.state, _row.event), ()), _row)


def match(r: Router, event: Event) -> Row | None:
    """The row of ``TRANSITIONS`` that ``event`` takes in ``r``'s state, if any."""
    for row in _INDEX.get((r.state, type(event)), ()):
        if row.guard(r, event):
            return row
    return None


def step(r: Router, event: Event) -> tuple[Router, list[Action]]:
    """Apply ``event``: the new router and the actions to perform, in order."""
    row = match(r, event)
    if row is None:
        return r, []
    new, actions = row.effect(r, event)
    if row.target is not r.state:
        new = replace(new, state=row.target)
        actions = [*actions, Enter(row.target, type(event).__name__)]
    return new, actions


def with_priority(r: Router, priority: int) -> Router:
    """The router with a new effective priority (tracking changed it)."""
    return replace(r, priority=priority)


def dot() -> str:
    """The transition table as a Graphviz digraph (``python -m ... fsm``)."""
    lines = ["digraph vrrp {"]
    for row in TRANSITIONS:
        label = row.event.__name__ + ("" if row.guard is always else f" [{row.guard.__name__}]")
        lines.append(f'  {row.state.value} -> {row.target.value} [label="{label}"];')
    lines.append("}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(dot())
