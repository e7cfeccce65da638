"""What the runtime reports of servers' health, and the runtime's hands on
the checks (management.txt §9.1 "check_status" ... "agent_health", §9.3
"show servers state", "set server", "enable|disable health|agent").

HAProxy keeps a server's health on the server (``counters.down_trans``,
``down_time``, ``last_change``, ``check.health`` even when unchecked) and
on its two ``struct check`` (``state``: CHK_ST_CONFIGURED / ENABLED /
PAUSED / AGENT).  Here ``Book`` keeps the server's part, fed by the
servers' watchers, and links every ``ServerRT`` to its ``Check`` objects
(the health check and the agent check that pyhaproxy/checks/setup.py
built, read from the runtime's ``Scheduler``) and to the server it tracks.

A health check is *paused* while its server is in maintenance (the runner
does not run it then, HAProxy's CHK_ST_PAUSED): the stats leave its
columns empty.  The agent check runs on (its reply may end the
maintenance).  Besides the checks themselves (runner.py, agent.py), only
this module changes a check's health.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import report, track
from pyhaproxy.checks import status as st
from pyhaproxy.dataplane.backend import DOWN, IMAINT, STOPPING, UP

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config

# struct check's state flags (include/haproxy/check-t.h)
CHK_ST_INPROGRESS, CHK_ST_CONFIGURED, CHK_ST_ENABLED = 0x01, 0x02, 0x04
CHK_ST_PAUSED, CHK_ST_AGENT = 0x08, 0x10
# enum healthcheck_status positions, as "show servers state" prints them
STATUS_NUMBER = {
    "UNK": 0,
    "INI": 1,
    "HANA": 4,
    "SOCKERR": 5,
    "L4OK": 6,
    "L4TOUT": 7,
    "L4CON": 8,
    "L6OK": 9,
    "L6TOUT": 10,
    "L6RSP": 11,
    "L7TOUT": 12,
    "L7RSP": 13,
    "L7OK": 15,
    "L7OKC": 16,
    "L7STS": 17,
}
# enum chk_result (CHK_RES_UNKNOWN, NEUTRAL, FAILED, PASSED, CONDPASS)
RESULT_NUMBER = {st.UNKNOWN: 0, st.FAILED: 2, st.PASSED: 3, st.CONDPASS: 4}


@dataclass(slots=True)
class Record:
    """One server: its checks and what HAProxy counts on ``struct server``."""

    check: Any = None  # runner.Check of "check", None without
    agent: Any = None  # runner.Check of "agent-check"
    tracked: Any = None  # the ServerRT of "track"
    rise: int = 2
    fall: int = 3
    health: int = 2  # check.health of a server without check (CLI-forced)
    # a server "disabled" at start keeps CHK_ST_PAUSED on the check it does
    # not have (HAProxy clears the flag only for an enabled check)
    paused: bool = False
    check_addr: str = ""  # "addr" / "set server check-addr" ("" : none)
    check_port: int = 0  # "port" / "set server check-port"
    agent_addr: str = ""
    agent_port: int = 0
    down_trans: int = 0  # chkdown: UP -> DOWN (or MAINT) transitions
    down_time: int = 0  # seconds spent stopped, the current stretch apart
    stopped_at: int = 0  # when the current stopped stretch began
    stopped: bool = False
    last_change: int = 0  # lastchg: the last operational or admin change
    shape: tuple = ()


@dataclass(slots=True)
class BackendRecord:
    up: bool = True
    down_trans: int = 0
    down_time: int = 0
    last_change: int = 0


def _now() -> int:
    return int(time.time())


def is_stopped(srv: Any) -> bool:
    """HAProxy's ``cur_state == SRV_ST_STOPPED`` (maintenance forces it)."""
    return bool(srv.maint) or srv.state == DOWN


def _backend_up(be: Any) -> bool:
    return not be.servers or any(s.eligible for s in be.servers)


@dataclass
class Book:
    """The health of every server of a runtime (``CliServer.book``)."""

    records: dict[Any, Record] = field(default_factory=dict)
    backends: dict[Any, BackendRecord] = field(default_factory=dict)
    out: report.Out | None = None  # where state-change messages go

    @classmethod
    def build(cls, config: Config, rt: Any, started: float) -> Book:
        book = cls()
        t0 = int(started)
        sched = getattr(rt, "checks", None)
        book.out = getattr(sched, "out", None)
        for px in config.proxies:
            be = rt.backends.get(px.name)
            if be is None:
                continue
            book.backends[be] = BackendRecord(_backend_up(be), last_change=t0)
            models = {s.name: s for s in px.servers}
            for srv in be.servers:
                model = models.get(srv.name)
                opts = model.options if model is not None else {}
                rec = Record(rise=opts.get("rise", 2), fall=opts.get("fall", 3))
                rec.health = 0 if srv.maint else rec.rise
                rec.paused = srv.maint
                rec.check_addr = opts.get("addr") or ""
                rec.check_port = opts.get("port") or 0
                rec.agent_addr = opts.get("agent-addr") or ""
                rec.agent_port = opts.get("agent-port") or 0
                spec = opts.get("track")
                if spec:
                    try:
                        rec.tracked = track.resolve(spec, px.name, rt.backends)
                    except track.TrackError:  # refused at start (checks/setup.py)
                        rec.tracked = None
                rec.stopped = is_stopped(srv)
                rec.stopped_at = rec.last_change = t0
                rec.shape = (srv.maint, srv.drain, srv.state)
                book.records[srv] = rec
        for check in getattr(sched, "checks", None) or ():
            rec = book.records.get(check.server)
            if rec is None:
                continue
            if check.agent:
                rec.agent = check
            else:
                rec.check = check
                if check.server.maint:  # "disabled": paused, HAProxy's health 0
                    check.health = 0
        return book

    def rec(self, srv: Any) -> Record:
        rec = self.records.get(srv)
        if rec is None:  # a server added at run time
            rec = self.records[srv] = Record(last_change=_now(), stopped_at=_now())
        return rec

    # -- the servers' watcher -----------------------------------------------

    def changed(self, srv: Any) -> None:
        """A server's state, admin flags or weight changed (ServerRT
        watchers): count what HAProxy's srv_update_status counts."""
        rec = self.rec(srv)
        now = _now()
        shape = (srv.maint, srv.drain, srv.state)
        if shape != rec.shape:
            rec.shape = shape
            rec.last_change = now
        stopped = is_stopped(srv)
        if stopped != rec.stopped:
            rec.stopped = stopped
            if stopped:
                rec.down_trans += 1
                rec.stopped_at = now
            else:
                rec.down_time += now - rec.stopped_at
        be = srv.backend
        brec = self.backends.get(be)
        if brec is not None:
            up = _backend_up(be)
            if up != brec.up:
                brec.up = up
                if not up:
                    brec.down_trans += 1
                else:
                    brec.down_time += now - brec.last_change
                brec.last_change = now

    def clear_counters(self, srv: Any) -> None:
        """``clear counters all``: chkfail and chkdown restart from 0 (the
        server's counters); downtime and the backend's chkdown are kept."""
        rec = self.rec(srv)
        rec.down_trans = 0
        for check in (rec.check, rec.agent):
            if check is not None:
                check.failed = 0

    def downtime(self, srv: Any, now: int) -> int:
        rec = self.rec(srv)
        return rec.down_time + (now - rec.stopped_at if rec.stopped else 0)

    def backend_downtime(self, be: Any, now: int) -> int:
        brec = self.backends[be]
        return brec.down_time + (0 if brec.up else now - brec.last_change)

    # -- check state --------------------------------------------------------

    def ref(self, srv: Any) -> Any:
        """The end of a tracking chain: the server whose checks decide."""
        seen = {srv}
        ref = srv
        while True:
            nxt = self.rec(ref).tracked
            if nxt is None or nxt in seen:
                return ref
            seen.add(nxt)
            ref = nxt

    def check_state(self, srv: Any, agent: bool = False) -> int:
        """HAProxy's ``check.state`` / ``agent.state`` flags."""
        rec = self.rec(srv)
        check = rec.agent if agent else rec.check
        if check is None:
            return CHK_ST_PAUSED if rec.paused and not agent else 0
        flags = CHK_ST_CONFIGURED | (CHK_ST_AGENT if agent else 0)
        if check.in_progress and not (srv.maint and not agent):
            flags |= CHK_ST_INPROGRESS
        if check.enabled:
            flags |= CHK_ST_ENABLED
        if srv.maint and not agent:
            flags |= CHK_ST_PAUSED
        return flags

    def active(self, srv: Any, agent: bool = False) -> Any:
        """The check if enabled and not paused (the stats show it), else None."""
        rec = self.rec(srv)
        check = rec.agent if agent else rec.check
        flags = self.check_state(srv, agent)
        if flags & (CHK_ST_ENABLED | CHK_ST_PAUSED) == CHK_ST_ENABLED:
            return check
        return None

    def health_of(self, srv: Any) -> tuple[int, int, int]:
        """(health, rise, fall) of the health check, or the server's own."""
        rec = self.rec(srv)
        if rec.check is not None:
            return rec.check.health, rec.check.rise, rec.check.fall
        return rec.health, rec.rise, rec.fall

    def status_text(self, srv: Any) -> str:
        """The ``status`` column of a server (HAProxy 2.6 stats.c
        stats_fill_sv_stats and srv_hlt_st[])."""
        if srv.maint:
            tracked = self.rec(srv).tracked
            if srv.admin & IMAINT and tracked is not None:
                return f"MAINT (via {tracked.backend.name}/{tracked.name})"
            return "MAINT"
        ref = self.ref(srv)
        check_on = bool(self.check_state(ref) & CHK_ST_ENABLED)
        agent_on = bool(self.check_state(ref, True) & CHK_ST_ENABLED)
        health, rise, fall = self.health_of(ref)
        rref = self.rec(ref)
        if srv.state == UP:
            going_down = check_on and health < rise + fall - 1
            if srv.drain:
                if agent_on:
                    return "DRAIN (agent)"
                return f"DRAIN {health - rise + 1}/{fall}" if going_down else "DRAIN"
            if going_down:
                return f"UP {health - rise + 1}/{fall}"
            return "UP" if check_on else "no check"
        if srv.state == STOPPING:
            own = self.check_state(srv) & CHK_ST_ENABLED
            if (not own and self.rec(srv).tracked is None) or health == rise + fall - 1:
                return "NOLB"
            return f"NOLB {health - rise + 1}/{fall}"
        if agent_on and rref.agent.health == 0:
            return "DOWN (agent)"
        if check_on and health == 0:
            return "DOWN"
        if agent_on or check_on:
            return f"DOWN {health}/{rise}"
        return "DOWN"

    # -- stats rows ---------------------------------------------------------

    def server_fields(self, srv: Any, now: int) -> dict[str, Any]:
        """The check columns of a server's ``show stat`` row."""
        rec = self.rec(srv)
        out: dict[str, Any] = {"lastchg": now - rec.last_change}
        if self.check_state(srv) & CHK_ST_ENABLED:
            out["chkfail"] = rec.check.failed
            out["chkdown"] = rec.down_trans
            out["downtime"] = self.downtime(srv, now)
        if rec.tracked is not None:
            out["tracked"] = f"{rec.tracked.backend.name}/{rec.tracked.name}"
        check = self.active(srv)
        if check is not None:
            status = check.status
            out["check_status"] = ("* " if check.in_progress else "") + status.code
            if status.with_code:
                out["check_code"] = check.code
            if status.code not in ("UNK", "INI"):
                out["check_duration"] = max(check.duration, 0)
            out["check_desc"] = status.words
            # a check starting clears its description (HAProxy's HCHK_STATUS_START)
            out["last_chk"] = "" if check.in_progress else check.desc
            ref_check = self.rec(self.ref(srv)).check or check
            out["check_rise"] = ref_check.rise
            out["check_fall"] = ref_check.fall
            out["check_health"] = ref_check.health
        agent = self.active(srv, True)
        if agent is not None:
            status = agent.status
            out["agent_status"] = ("* " if agent.in_progress else "") + status.code
            if status.with_code:
                out["agent_code"] = agent.code
            out["agent_duration"] = max(agent.duration, 0)
            out["agent_desc"] = status.words
            out["last_agt"] = "" if agent.in_progress else agent.desc
            out["agent_rise"] = agent.rise
            out["agent_fall"] = agent.fall
            out["agent_health"] = agent.health
        return out

    def backend_fields(self, be: Any, now: int) -> dict[str, Any]:
        brec = self.backends.get(be)
        if brec is None:
            return {}
        out: dict[str, Any] = {"chkdown": brec.down_trans, "lastchg": now - brec.last_change}
        if be.servers:
            out["downtime"] = self.backend_downtime(be, now)
        return out

    def state_numbers(self, srv: Any) -> str:
        """``srv_check_status srv_check_result srv_check_health
        srv_check_state srv_agent_state`` of ``show servers state``."""
        rec = self.rec(srv)
        check = rec.check
        status = check.status if check is not None else st.INI
        # no result while a check runs (HAProxy's CHK_RES_UNKNOWN at its start)
        result = 0 if check is not None and check.in_progress else RESULT_NUMBER[status.result]
        health = self.health_of(srv)[0]
        return (
            f"{STATUS_NUMBER.get(status.code, 0)} {result} "
            f"{health} {self.check_state(srv)} {self.check_state(srv, True)}"
        )

    def addresses(self, srv: Any) -> str:
        """``srv_check_port srv_check_addr srv_agent_addr srv_agent_port``."""
        rec = self.rec(srv)
        return f"{rec.check_port} {rec.check_addr or '-'} {rec.agent_addr or '-'} {rec.agent_port}"

    # -- changes (runtime API, stats page) ------------------------------------

    def force_health(self, srv: Any, state: str, why: str) -> None:
        """``set server health up|stopping|down`` / the page's hrunn,
        hnolb, hdown: the health counter at its top (or 0), then the
        server's state, with HAProxy's message (``why``: "changed from
        CLI", "changed from Web interface")."""
        rec = self.rec(srv)
        top = state != DOWN
        if rec.check is not None:
            c = rec.check
            c.health = c.rise + c.fall - 1 if top else 0
        else:
            rec.health = rec.rise + rec.fall - 1 if top else 0
        self.set_state(srv, state, why)

    def force_agent(self, srv: Any, up: bool, why: str) -> None:
        """``set server agent up|down`` / the page's arunn, adown."""
        agent = self.rec(srv).agent
        agent.health = agent.rise + agent.fall - 1 if up else 0
        self.set_state(srv, UP if up else DOWN, why)

    def set_state(self, srv: Any, state: str, why: str) -> None:
        """HAProxy's srv_set_running / srv_set_stopping / srv_set_stopped
        with a reason: no message for a server in maintenance."""
        if srv.state == state:
            return
        be = srv.backend
        had = report.counts(be) != (0, 0)
        srv.set_state(state)
        if srv.maint or self.out is None:
            return
        detail = f", {why}"
        if state == STOPPING:
            report.emit(self.out, be.name, "notice", report.stopping_line(srv, detail))
            return
        report.state_change(self.out, srv, state == DOWN, detail, had)
        report.still_draining(self.out, srv, "")

    def pause(self, srv: Any) -> None:
        """``srv`` enters maintenance: its health check pauses (health 0)."""
        rec = self.rec(srv)
        rec.health = 0
        if rec.check is not None:
            rec.check.health = 0

    def resume(self, srv: Any) -> None:
        """``srv`` leaves maintenance (runtime/adminstate.py): its check
        starts again from ``rise``, the server UP unless its agent or the
        server it tracks says otherwise."""
        rec = self.rec(srv)
        check = rec.check
        if check is not None and check.enabled:
            check.health = check.rise
        agent_ok = rec.agent is None or rec.agent.health >= rec.agent.rise
        if rec.tracked is not None:
            srv.set_state(rec.tracked.state)
        elif agent_ok:
            srv.set_state(UP)
