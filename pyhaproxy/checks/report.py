"""Server state messages in HAProxy's words (src/server.c srv_append_status,
src/check.c set_server_check_status).

``emit()`` is the one function every check message goes through: stderr
(``[WARNING]  (PID) : Server be/s2 is DOWN, ...``, as HAProxy's ha_warning)
and the backend's log targets (HAProxy's ``send_log(proxy, level, ...)``)
through ``Out.log`` (pyhaproxy/log ``Logging.send``).  The syslog level is
HAProxy's: ALERT for a server going DOWN, NOTICE for UP, admin changes and
check results, EMERG for a backend left without servers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import status as st
from pyhaproxy.dataplane.backend import FDRAIN, UP

if TYPE_CHECKING:
    from pyhaproxy.messages import Reporter

LEVELS = {"emerg": 0, "alert": 1, "notice": 5}  # syslog severities


@dataclass(slots=True)
class Out:
    """Where messages go: the stderr reporter, and ``log(proxy name, syslog
    level, text)`` for the log targets (None: no logging)."""

    reporter: Reporter
    log: Callable[[str, int, str], None] | None = None
    # HAProxy's proxy_type_str of a backend that is not "backend": a
    # listen section is a "proxy" (setup.py fills it)
    kinds: dict[str, str] = field(default_factory=dict)


def emit(out: Out, backend: str, level: str, text: str, log_text: str = "") -> None:
    """Write one state-change message; ``log_text`` when the log line
    differs from the stderr one (HAProxy quotes the backend on stderr only)."""
    reporter = out.reporter
    # the log line is ours to send, at HAProxy's level: not the reporter's
    sink, reporter.sink = reporter.sink, None
    try:
        if level == "emerg":
            reporter.alert(text, context=None)
        else:
            reporter.warning(text, context=None)
    finally:
        reporter.sink = sink
    if out.log is not None:
        out.log(backend, LEVELS[level], log_text or text)


def ascii_encode(text: str) -> str:
    """HAProxy's chunk_asciiencode with '"': non-printables and '"' as \\xHH."""
    out = []
    for ch in text:
        o = ord(ch)
        if o < 32 or o >= 127 or ch == '"':
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    return "".join(out)


def check_status(status: st.Status | None, code: int, desc: str, duration: int) -> str:
    """``, reason: ..., code: N, info: "...", check duration: Nms``."""
    if status is None:
        return f", {desc}" if desc else ""
    out = f", reason: {status.words}"
    if status.with_code:
        out += f", code: {code}"
    if desc:
        out += f', info: "{ascii_encode(desc)}"'
    if duration >= 0:
        out += f", check duration: {duration}ms"
    return out


def counts(backend: Any) -> tuple[int, int]:
    act = bck = 0
    for s in backend.servers:
        # HAProxy's srv_is_usable: running (a stopping server is not)
        if not s.maint and s.state == UP and s.weight > 0:
            if s.backup:
                bck += 1
            else:
                act += 1
    return act, bck


def server_line(server: Any, went_down: bool, detail: str) -> str:
    """``Server be/s is DOWN<detail>. N active and M backup servers left. ...``"""
    be = server.backend
    act, bck = counts(be)
    who = "Backup Server" if server.backup else "Server"
    backup_only = " Running on backup." if bck and not act else ""
    if went_down:
        return (
            f"{who} {be.name}/{server.name} is DOWN{detail}. {act} active and {bck} backup "
            f"servers left.{backup_only} {server.cur} sessions active, 0 requeued, "
            "0 remaining in queue."
        )
    return (
        f"{who} {be.name}/{server.name} is UP{detail}. {act} active and {bck} backup "
        f"servers online.{backup_only} 0 sessions requeued, {len(be.queue)} total in queue."
    )


def stopping_line(server: Any, detail: str) -> str:
    """``Server be/s is stopping<detail>. N active and M backup servers
    online. ...`` (HAProxy's srv_set_stopping)."""
    text = server_line(server, False, detail)
    name = f"{server.backend.name}/{server.name}"
    return text.replace(f"{name} is UP", f"{name} is stopping", 1)


def state_change(out: Out, server: Any, went_down: bool, detail: str, had_servers: bool) -> None:
    be = server.backend
    emit(
        out,
        be.name,
        "alert" if went_down else "notice",
        server_line(server, went_down, detail),
    )
    if went_down and had_servers and counts(be) == (0, 0):
        kind = out.kinds.get(be.name, "backend")
        emit(
            out,
            be.name,
            "emerg",
            f"{kind} '{be.name}' has no server available!",
            f"{kind} {be.name} has no server available!",
        )


def health_line(
    server: Any, agent: bool, result: str, detail: str, health: int, rise: int, fall: int
) -> str:
    """``Health check for server be/s failed, reason: ..., status: 0/2 DOWN.``"""
    who = "backup " if server.backup else ""
    verdict = {"condpass": "conditionally succeeded", "passed": "succeeded"}.get(result, "failed")
    if health >= rise:
        state = f"{health - rise + 1}/{fall} {'UP' if server.uweight else 'DRAIN'}"
    else:
        state = f"{health}/{rise} DOWN"
    kind = "Agent" if agent else "Health"
    return (
        f"{kind} check for {who}server {server.backend.name}/{server.name} {verdict}"
        f"{detail}, status: {state}."
    )


def still_draining(out: Out, server: Any, via: str) -> None:
    """After a change, a server out of maintenance that drains on: HAProxy
    2.6 says which drain is left (forced, or inherited ``via`` the server
    it tracks) -- after an admin change, and after a state change too."""
    if server.maint or not server.drain:
        return
    who = f"{'Backup Server' if server.backup else 'Server'} {server.backend.name}/{server.name}"
    if server.admin & FDRAIN:
        text = f"{who} remains in forced drain mode."
    else:
        text = f"{who} is leaving forced drain but remains in drain mode{via}."
    emit(out, server.backend.name, "notice", text)
