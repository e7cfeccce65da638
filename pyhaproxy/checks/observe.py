"""Health adjusted by the traffic, and actions on state changes.

configuration.txt §5.2 "observe <mode>", "error-limit <count>", "on-error
<mode>", "on-marked-down shutdown-sessions", "on-marked-up
shutdown-backup-sessions"; HAProxy 2.6 src/check.c ``__health_adjust`` and
``analyze_statuses[]``, src/server.c ``srv_shutdown_streams``.

The data plane reports what it sees of a server through one attribute,
``ServerRT.observe``: None (the default, one test on the hot path) or an
``Observer``, called with one of the analysis codes below.  Each code is an
error, a success (which clears the count) or ignored, depending on the mode
(``layer4``: connections only; ``layer7``: HTTP answers and connections).
``error-limit`` consecutive errors apply ``on-error`` to the server's
health check, as a check result of status ``HANA`` ("Health analyze"),
then force ``fastinter``.  Invariant: only the health check's counter
moves the server's state (runner.Check.set_status), as for a real check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import status as st
from pyhaproxy.dataplane import backend as B
from pyhaproxy.dataplane.backend import DOWN, UP
from pyhaproxy.dataplane.tcp import TcpSession

if TYPE_CHECKING:
    from pyhaproxy.checks.runner import Check

# HAProxy's HANA_STATUS_*: what the data plane saw (named in dataplane/backend.py)
L4_OK, L4_ERR = B.OBS_L4_OK, B.OBS_L4_ERR
HTTP_OK, HTTP_STS, HTTP_HDRRSP, HTTP_RSP = (
    B.OBS_HTTP_OK,
    B.OBS_HTTP_STS,
    B.OBS_HTTP_HDRRSP,
    B.OBS_HTTP_RSP,
)
HTTP_READ_ERROR, HTTP_READ_TIMEOUT, HTTP_BROKEN_PIPE = (
    B.OBS_READ_ERROR,
    B.OBS_READ_TIMEOUT,
    B.OBS_BROKEN_PIPE,
)

# description, (layer4, layer7) verdict: 0 ignore, 1 error, 2 success
ANALYZE = {
    L4_OK: ("L4 successful connection", (2, 0)),
    L4_ERR: ("L4 unsuccessful connection", (1, 1)),
    HTTP_OK: ("Correct http response", (0, 2)),
    HTTP_STS: ("Wrong http response", (0, 1)),
    HTTP_HDRRSP: ("Invalid http response (headers)", (0, 1)),
    HTTP_RSP: ("Invalid http response", (0, 1)),
    HTTP_READ_ERROR: ("Read error (http)", (0, 1)),
    HTTP_READ_TIMEOUT: ("Read timeout (http)", (0, 1)),
    HTTP_BROKEN_PIPE: ("Close from server (http)", (0, 1)),
}
LAYERS = {"layer4": 0, "layer7": 1}
# errors acted on once the stream that saw them ended (see Observer)
_AFTER_STREAM = frozenset({HTTP_READ_ERROR, HTTP_READ_TIMEOUT, HTTP_BROKEN_PIPE})


http_status = B.observed_status


class Observer:
    """``ServerRT.observe`` of a server with ``observe layer4|layer7`` and
    a health check: counts consecutive errors (HAProxy's
    ``consecutive_errors``) and acts on the check at ``limit``."""

    __slots__ = ("check", "layer", "limit", "on_error", "errors", "failed_hana", "forward")

    def __init__(self, check: Check, mode: str, limit: int = 10, on_error: str = "fail-check"):
        self.check = check
        self.layer = LAYERS[mode]
        self.limit = limit
        self.on_error = on_error
        self.errors = 0
        self.failed_hana = 0  # the stats' "hanafail"
        # in master-worker mode, set in the workers whose checks mirror the
        # owner's: the result goes to the owner instead (master/share.py)
        self.forward: Callable[[st.Status, int, str], None] | None = None

    def __call__(self, what: int) -> None:
        verdict = ANALYZE[what][1][self.layer]
        if verdict != 1:
            if verdict == 2:
                self.errors = 0
            return
        self.errors += 1
        if self.errors < self.limit:
            return
        text = f"Detected {self.errors} consecutive errors, last one was: {ANALYZE[what][0]}"
        self.errors = 0
        self.failed_hana += 1
        loop = self.check.loop
        if what in _AFTER_STREAM and loop is not None:
            # HAProxy's messages for these no longer count the stream that
            # saw them ("0 sessions active", checked with 2.6: a timeout or
            # a close ends it first), then the action applies
            loop.call_soon(self._act, text)
        else:
            self._act(text)

    def _act(self, text: str) -> None:
        check = self.check
        if check._stopped and self.forward is None:
            return  # the process is stopping
        mode = self.on_error
        if mode == "sudden-death" and check.health > check.rise:
            check.health = check.rise + 1  # a pre-fatal failed check
        elif mode == "mark-down":
            check.health = check.rise
        if self.forward is not None:
            if mode != "fastinter":
                self.forward(st.HANA, 0, text)  # the owner acts, health included
            return
        if mode != "fastinter":
            check.duration = -1  # set_server_check_status: none for HANA
            check.set_status(st.HANA, 0, text)
        if check.fastinter:
            check.hasten(check.fastinter / 1000.0)


def attach(check: Check, options: dict[str, Any]) -> None:
    """Observe the traffic of ``check``'s server if its line says so."""
    mode = options.get("observe", "none")
    if mode not in LAYERS:
        return
    observer = Observer(
        check, mode, options.get("error-limit", 10), options.get("on-error", "fail-check")
    )
    check.observer = observer
    check.server.observe = observer


# ---------------------------------------------------------------- actions


def _streams_on(sessions: Iterable[Any], servers: Iterable[Any]) -> list[Any]:
    targets = {id(s) for s in servers}
    return [s for s in list(sessions) if id(getattr(s, "srv", None)) in targets]


def shutdown(streams: list[Any], cause: str) -> None:
    """HAProxy's ``stream_shutdown(strm, SF_ERR_DOWN|SF_ERR_UP)``: each
    stream ends now, its log line saying ``cause`` (``D`` down, ``U`` up);
    a TCP stream's phase stays ``-`` (``D-``, as HAProxy 2.6 logs it), an
    HTTP stream's is the one it was in."""
    for stream in streams:
        if getattr(stream, "closed", False):
            continue
        if stream.log is not None and not stream.term:
            phase = "-" if isinstance(stream, TcpSession) else stream._abort_term()[1:]
            stream.term = cause + phase
        stream.close()


def actions(server: Any, options: dict[str, Any], sessions: Callable[[], Iterable[Any]]) -> None:
    """``on-marked-down shutdown-sessions`` / ``on-marked-up
    shutdown-backup-sessions``: a watcher of ``server`` that kills, once
    the state message is out (the next loop turn, as HAProxy's streams end
    in their own task), the streams of the server going DOWN, or those of
    the backend's backup servers when this active server comes UP with a
    weight (src/server.c srv_update_status)."""
    down = options.get("on-marked-down") == "shutdown-sessions"
    up = options.get("on-marked-up") == "shutdown-backup-sessions" and not server.backup
    if not down and not up:
        return
    was = [server.state, server.maint]

    def watch(srv: Any) -> None:
        before_state, before_maint = was
        was[:] = [srv.state, srv.maint]
        loop = srv.loop
        if loop is None:
            return
        if down and srv.state == DOWN and before_state != DOWN:
            loop.call_soon(lambda: shutdown(_streams_on(sessions(), [srv]), "D"))
        elif (
            up
            and srv.state == UP
            and not srv.maint
            and (before_state != UP or before_maint)
            and srv.uweight > 0
        ):
            backups = [s for s in srv.backend.servers if s.backup]
            loop.call_soon(lambda: shutdown(_streams_on(sessions(), backups), "U"))

    server.watchers.append(watch)


__all__ = ["Observer", "actions", "attach", "http_status", "shutdown"]
