"""``show sess [<id>|all]`` and ``shutdown session <id>`` (management.txt §9.3).

The streams of this process are the data plane's registry ``Runtime.sessions``
(a stream adds itself when its client connection is made and is removed by
``Runtime.session_done``; the only per-stream cost is that set operation and
the accept time ``born``) plus the stats sockets' own sessions
(``CliServer.sessions``), which HAProxy lists too (``fe=GLOBAL``).  A stream's
id is its object's address, ``0x%x`` of ``id()``, as HAProxy prints its
stream pointer; ``shutdown session`` takes that id.

HAProxy creates an HTTP/1 stream once a request head is in: a connection
still reading its head, or idle between requests, carries no stream, and
is not listed.

The one-line format is HAProxy 2.6's ``cli_io_handler_dump_sess``.  Fields
that are the same as HAProxy's: the id's form, ``proto``, ``src``, ``fe``,
``be`` (``<NONE>`` until a backend is chosen), ``srv`` (``<none>``),
``ts=00``, ``epoch`` (the number of ``show sess`` commands run before the
stream was created, and for a CLI session the one that last ran ``show
sess``), ``age``, ``cpu``/``lat`` (0: profiling is off), ``i`` (bytes
waiting for the server), ``rx`` (the time left before the stream's idle
timeout, on the sides it applies to), the stream connector states in
``scf``/``scb`` (8 established, 5 connecting, 2 queued, 0 no server yet),
``fd`` (the client's and the server's socket, ``-1`` without one), ``rc=0``.
Fields that cannot be the same: ``calls`` and ``rate`` count the wake-ups
of HAProxy's stream task, which pyhaproxy does not have (printed 0); the
channel flags ``f``, analysers ``an`` and connector flags are HAProxy
internals without an equivalent (printed 0); ``exp`` is the stream's
deadline (HAProxy prints its task's expiry); ``wx``/``ax`` and ``c_exp``
are always empty (pyhaproxy arms no separate write or analyser timeout).

``show sess <id>`` and ``show sess all`` print HAProxy's detailed dump with
the same restrictions: the accept date, ``id`` (the stream's rank of
creation among those alive is not known: HAProxy's unique counter is
printed as 0), frontend/backend/server with their ids, modes and addresses,
the task line, both connectors with their connection's ``ctrl``, ``xprt``,
``mux`` and ``fd``, and both channels with their ``total`` (0 unless the
frontend logs: the data plane counts a stream's bytes only for its log
line).  Pointers of internal objects HAProxy prints (tasks, buffers,
connections) have no equivalent and are printed ``(nil)``.
"""

from __future__ import annotations

import bisect
import socket
import time
from typing import TYPE_CHECKING, Any

from pyhaproxy.dataplane.http import HEAD, IDLE, HttpSession
from pyhaproxy.runtime.cli import CliSession
from pyhaproxy.runtime.commands import ADMIN, OPERATOR, command

if TYPE_CHECKING:
    from pyhaproxy.runtime.server import CliServer

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAY, _HOUR, _MINUTE = 86400, 3600, 60

# stream connector states (HAProxy 2.6 SC_ST_*)
SC_INI, SC_QUE, SC_CON, SC_EST = 0, 2, 5, 8


def human_time(t: int) -> str:
    """HAProxy's ``human_time(t, 1)``: at most two units, ``0s`` for 0."""
    if t < 0:
        return "?"
    out = []
    cnt = 2
    if t >= _DAY:
        out.append(f"{t // _DAY}d")
        cnt -= 1
    if cnt and t % _DAY // _HOUR:
        out.append(f"{t % _DAY // _HOUR}h")
        cnt -= 1
    if cnt and t % _HOUR // _MINUTE:
        out.append(f"{t % _HOUR // _MINUTE}m")
        cnt -= 1
    if (cnt and t % _MINUTE) or not t:
        out.append(f"{t % _MINUTE}s")
    return "".join(out)


def _remaining(deadline: float | None, now: float) -> str:
    """A timeout as HAProxy prints a tick (empty when not set)."""
    if deadline is None:
        return ""
    return human_time(max(int(deadline - now), 0))


def _hex(value: int) -> str:
    """C's ``%#x``: ``0`` for zero, else ``0x...``."""
    return f"{value:#x}" if value else "0"


class Epochs:
    """HAProxy's ``stream_epoch``: each ``show sess`` increments it; a
    stream's epoch is the value when it was created.  Kept as the times of
    the ``show sess`` commands, so streams need not record anything."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def bump(self, now: float) -> int:
        self.times.append(now)
        return len(self.times) - 1

    def at(self, born: float) -> int:
        return bisect.bisect_right(self.times, born)


class View:
    """What ``show sess`` prints of one stream, traffic or CLI."""

    def __init__(
        self, cli: CliServer, obj: Any, now: float, epochs: Epochs, current: Any = None
    ) -> None:
        self.obj = obj
        self.cli = cli
        if isinstance(obj, CliSession):
            self._from_cli(cli, obj, now, epochs, current)
        else:
            self._from_stream(cli, obj, now, epochs)

    def _from_cli(
        self, cli: CliServer, sess: CliSession, now: float, epochs: Epochs, current: Any
    ) -> None:
        self.born = getattr(sess, "born", None) or now  # set by server.py at accept
        epoch = getattr(sess, "epoch", None)  # set by its last "show sess"
        self.epoch = epochs.at(self.born) if epoch is None else epoch
        self.fe, self.fe_id, self.fe_mode = "GLOBAL", 0, "tcp"
        self.be = self.srv = None
        self.transport = sess.transport
        self.server_transport = None
        lst = cli._by_session.get(sess)
        self.luid = cli.listeners.index(lst) + 1 if lst in cli.listeners else 0
        timer = sess.timer  # the idle timeout ("stats timeout")
        if sess is current:  # running this command: no timeout armed
            self.exp = ""
        else:
            self.exp = _remaining(timer.when() if timer is not None else None, now)
        self.rx_req, self.rx_res = self.exp, ""
        self.sc_back = SC_EST  # the CLI applet
        self.pending = 0
        self.mux = "PASS"
        self.total = (0, 0)

    def _from_stream(self, cli: CliServer, s: Any, now: float, epochs: Epochs) -> None:
        self.born = s.born
        self.epoch = epochs.at(s.born)
        fe = s.fe
        self.fe, self.fe_id, self.fe_mode = fe.name, cli.proxy_id(fe.name), fe.mode
        self.srv = s.srv
        server = s.server
        self.server_transport = getattr(server, "transport", None)
        self.luid = 1
        self.transport = s.transport
        http = isinstance(s, HttpSession)
        self.mux = "H1" if http else "PASS"
        self.be = be = s.be
        if server is not None:
            self.sc_back = SC_EST
        elif s.task is not None:
            self.sc_back = SC_CON
        elif s.srv is None and be is not None and s in be.queue:
            self.sc_back = SC_QUE
        else:
            self.sc_back = SC_INI
        left = _remaining(s.deadline, now)
        self.rx_req = self.rx_res = ""
        if http:  # the request is in: the response's timeout runs
            self.rx_res = left
        elif server is not None:
            self.rx_req = self.rx_res = left
        self.exp = left
        pend = getattr(s, "pending", None) or getattr(s, "out", None) or ()
        self.pending = sum(len(b) for b in pend if isinstance(b, bytes | bytearray))
        if s.log is not None:
            self.total = (getattr(s, "bytes_in", 0) or 0, getattr(s, "bytes_out", 0) or 0)
        else:
            self.total = (0, 0)

    # ---- addresses -----------------------------------------------------------

    @staticmethod
    def _sock(transport: Any) -> socket.socket | None:
        if transport is None:
            return None
        sock = transport.get_extra_info("socket")
        return sock if sock is not None and sock.fileno() >= 0 else None

    @staticmethod
    def _fd(transport: Any) -> int:
        sock = View._sock(transport)
        return sock.fileno() if sock is not None else -1

    def proto(self) -> str:
        sock = self._sock(self.transport)
        if sock is None:
            return "?"
        return {socket.AF_INET: "tcpv4", socket.AF_INET6: "tcpv6"}.get(sock.family, "unix_stream")

    def _addr(self, transport: Any, which: str) -> str:
        sock = self._sock(transport)
        if sock is None:
            return "?"
        if sock.family == socket.AF_UNIX:
            return f"unix:{self.luid}"
        addr = transport.get_extra_info(which)
        return f"{addr[0]}:{addr[1]}" if addr else "?"

    def src(self) -> str:
        return self._addr(self.transport, "peername")

    # ---- the answers ---------------------------------------------------------

    def line(self, now: float) -> str:
        be = self.be.name if self.be is not None else "<NONE>"
        srv = self.srv.name if self.srv is not None else "<none>"
        age = human_time(int(now - self.born))
        return (
            f"0x{sid(self.cli, self.obj):x}: proto={self.proto()} src={self.src()} fe={self.fe} "
            f"be={be} srv={srv} ts=00 epoch={_hex(self.epoch)} age={age} calls=0 rate=0 "
            f"cpu=0 lat=0 rq[f=000000h,i={self.pending},an=00h,rx={self.rx_req},wx=,ax=] "
            f"rp[f=000000h,i=0,an=00h,rx={self.rx_res},wx=,ax=] "
            f"scf=[{SC_EST},0h,fd={self._fd(self.transport)}] "
            f"scb=[{self.sc_back},0h,fd={self._fd(self.server_transport)}] "
            f"exp={self.exp} rc=0 c_exp=\n"
        )

    def full(self, now: float) -> str:
        """HAProxy's ``stats_dump_full_strm_to_buffer`` (see the module doc)."""
        wall = time.time() - (now - self.born)
        tm = time.localtime(wall)
        date = (
            f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{int(wall % 1 * 1e6):06d}"
        )
        cli = self.cli
        out = [
            f"0x{sid(self.cli, self.obj):x}: [{date}] id=0 proto={self.proto()} source={self.src()}\n",
            f"  flags=0x0, conn_retries={getattr(self.obj, 'tries', 0)}, conn_exp=<NEVER> "
            f"conn_et=0x000 srv_conn=(nil), pend_pos=(nil) waiting=0 "
            f"epoch={_hex(self.epoch)}\n",
            f"  frontend={self.fe} (id={self.fe_id} mode={self.fe_mode}), listener=? "
            f"(id={self.luid}) addr={self._addr(self.transport, 'sockname')}\n",
        ]
        be, srv = self.be, self.srv
        if be is not None:
            local = self._addr(self.server_transport, "sockname")
            addr = f" addr={local}" if self.server_transport is not None else ""
            out.append(f"  backend={be.name} (id={cli.proxy_id(be.name)} mode={be.mode}){addr}\n")
        else:
            out.append("  backend=<NONE> (id=-1 mode=-)\n")
        if srv is not None:
            where = f"{srv.host}:{srv.port}" if srv.family in ("ipv4", "ipv6") else str(srv.host)
            out.append(f"  server={srv.name} (id={cli.server_id(srv)}) addr={where}\n")
        else:
            out.append("  server=<NONE> (id=-1)\n")
        age = human_time(int(now - self.born))
        out.append(
            f"  task=(nil) (state=0x00 nice=0 calls=0 rate=0 exp={self.exp or '<NEVER>'} "
            f"tmask=0x1 age={age})\n"
        )
        out.append(self._conn("scf", "co0", SC_EST, self.transport, "LISTENER"))
        if self.server_transport is not None:
            out.append(self._conn("scb", "co1", self.sc_back, self.server_transport, "SERVER"))
        elif self.fe == "GLOBAL":
            out.append(
                "  scb=(nil) flags=0x00000001 state=EST endp=APPCTX,(nil),0x00000000 sub=0\n"
                "      app1=(nil) st0=0 st1=0 st2=0 applet=<CLI> tmask=0x1 nice=0 "
                "calls=0 rate=0 cpu=0 lat=0\n"
            )
        else:
            state = _SC_NAMES[self.sc_back]
            out.append(
                f"  scb=(nil) flags=0x00000000 state={state} endp=CONN,(nil),0x00000000 sub=0\n"
            )
        for name, rx, total, pending in (
            ("req", self.rx_req, self.total[0], self.pending),
            ("res", self.rx_res, self.total[1], 0),
        ):
            out.append(
                f"  {name}=(nil) (f=0x0 an=0x0 pipe=0 tofwd=-1 total={total})\n"
                f"      an_exp=<NEVER> rex={rx or '<NEVER>'} wex=<NEVER>\n"
                f"      buf=(nil) data=(nil) o=0 p=0 i={pending} size=0\n"
            )
        return "".join(out)

    def _conn(self, sc: str, co: str, state: int, transport: Any, target: str) -> str:
        xprt = "SSL" if transport.get_extra_info("sslcontext") is not None else "RAW"
        return (
            f"  {sc}=(nil) flags=0x00000000 state={_SC_NAMES[state]} endp=CONN,(nil),0x00000000 "
            f"sub=0\n"
            f"      {co}=(nil) ctrl={self.proto()} xprt={xprt} mux={self.mux} data=STRM "
            f"target={target}:(nil)\n"
            f"      flags=0x00000000 fd={self._fd(transport)} fd.state=0 updt=0 fd.tmask=0x1\n"
        )


_SC_NAMES = {SC_INI: "INI", SC_QUE: "QUE", SC_CON: "CON", SC_EST: "EST"}


def epochs_of(cli: CliServer) -> Epochs:
    if cli.epochs is None:
        cli.epochs = Epochs()
    return cli.epochs


def streams(cli: CliServer) -> list[Any]:
    """Every stream shown, oldest first (HAProxy lists them in creation
    order): the traffic streams that carry a stream, and the CLI sessions."""
    out = [s for s in cli.rt.sessions if _has_stream(s)]
    out.extend(cli.sessions)
    out.sort(key=lambda s: getattr(s, "born", 0.0))
    return out


def _has_stream(s: Any) -> bool:
    if getattr(s, "closed", False):
        return False
    if isinstance(s, HttpSession):  # HTTP/1: no stream between requests (see the module doc)
        return s.state not in (IDLE, HEAD) or s.tunnel
    return True


def sid(cli: CliServer, obj: Any) -> int:
    """A stream's id: its address, with under ``-W`` its worker's number in
    bits 48-55 (above any address of the process): the workers' streams,
    listed together, never share an id."""
    share = cli.rt.share
    return id(obj) | (share.relative << 48 if share is not None else 0)


def _parse_ptr(text: str) -> int:
    """C's ``strtoul(text, NULL, 0)``: 0x hex, 0 octal, else decimal; 0 when
    nothing parses."""
    t = text.strip()
    neg = t.startswith("-")
    t = t.lstrip("+-")
    base, digits = 10, "0123456789"
    if t[:2].lower() == "0x":
        base, digits, t = 16, "0123456789abcdefABCDEF", t[2:]
    elif t.startswith("0"):
        base, digits = 8, "01234567"
    n = 0
    while n < len(t) and t[n] in digits:
        n += 1
    value = int(t[:n], base) if n else 0
    return (-value) % (1 << 64) if neg else value


@command(
    "show sess",
    "show sess [id]",
    "report the list of current sessions or dump this exact session",
    level=OPERATOR,
)
def _show_sess(sess: CliSession, args: list[str], payload: str | None) -> str:
    cli = sess.server
    ep = epochs_of(cli)
    now = cli.rt.loop.time()
    sess.epoch = ep.bump(now)
    arg = args[2] if len(args) > 2 else ""
    found = streams(cli)
    if arg == "all":
        return "".join(View(cli, s, now, ep, sess).full(now) for s in found)
    target = _parse_ptr(arg) if arg else 0
    if target:
        for s in found:
            if sid(cli, s) == target:
                return View(cli, s, now, ep, sess).full(now)
        return "Session not found.\n"
    return "".join(View(cli, s, now, ep, sess).line(now) for s in found)


@command(
    "shutdown session",
    "shutdown session [id]",
    "kill a specific session",
    level=ADMIN,
)
def _shutdown_session(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    arg = args[2] if len(args) > 2 else ""
    target = _parse_ptr(arg) if arg else 0
    if not target:
        return "Session pointer expected (use 'show sess').\n"
    cli = sess.server
    for s in streams(cli):
        # not the session asking: a new object may reuse a freed stream's
        # address, and this one is the newest
        if sid(cli, s) == target and s is not sess:
            kill(s)
            return None
    return "No such session (use 'show sess').\n"


def kill(stream: Any) -> None:
    """HAProxy's ``stream_shutdown(strm, SF_ERR_KILLED)``: the stream ends
    now, its log line saying ``K`` (killed by admin) for the side it was on."""
    if isinstance(stream, CliSession):
        stream._close()
        return
    if stream.log is not None and not stream.term:
        stream.term = "K" + stream._abort_term()[1:]
    stream.close()
