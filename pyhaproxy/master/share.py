"""What the workers of one generation share (DESIGN.md "Process model"):
server state, health checks, state-changing CLI commands, counters.

A worker's side of its link to the master (``link.py`` has the frames and
the master's relay).  Invariants:

- worker 1 of a generation (relative number 1) is the *owner*: it alone
  runs the health and agent checks (``checks.setup`` builds them in every
  worker; the others stop theirs at once and keep them as mirrors for the
  stats) and it alone publishes server state: the fields of ``record``,
  whenever one changes (a check result, an agent reply, tracking, a CLI
  command), batched once per loop iteration.  The other workers apply
  what it publishes and never publish, so the owner is the single writer
  and every worker converges on its state;
- the traffic of every worker is observed (``observe``, checks/observe.py):
  an ``on-error`` verdict reached in another worker goes to the owner's
  health check (``_forward_result``), which acts on it as on its own;
- a worker starts from the master's snapshot of what the owner published
  so far, applied before it serves or checks;
- a CLI command that changes state (``REPLICATED``) runs where it was
  typed, then in every other worker of the generation before its answer
  is sent (``ran``): the origin waits for the master's ``done``, so a
  client that got the answer sees the change in every worker; the stats
  page's admin form likewise (``posted``);
- counters stay plain attributes of each worker; a reader of statistics
  (``runtime/stats.py`` ``read``, ``others``) gathers the other workers'
  counters through the master once per loop iteration and adds them;
- while it waits (a ``done``, a ``gathered``), a worker keeps answering
  its link: the requests of other workers waiting on it cannot deadlock.
  A wait is bounded (``WAIT``); a late answer is an explicit error.

In a single process none of this exists (``Runtime.share`` is None).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import select
import socket
import time
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import status as st
from pyhaproxy.dataplane.backend import BackendRT, ServerRT
from pyhaproxy.dataplane.counters import Counters
from pyhaproxy.master.link import Frames, frame

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

WAIT = 5.0  # seconds a worker waits for the others (done, gathered, snapshot)

# CLI commands whose effect every worker must see (their registered words)
REPLICATED = frozenset(
    {
        ("add", "server"),
        ("del", "server"),
        ("disable", "frontend"),
        ("enable", "frontend"),
        ("set", "maxconn", "frontend"),
        ("set", "maxconn", "global"),
        ("set", "server"),
        ("set", "weight"),
        ("disable", "server"),
        ("enable", "server"),
        ("set", "maxconn", "server"),
        ("disable", "health"),
        ("enable", "health"),
        ("disable", "agent"),
        ("enable", "agent"),
        ("shutdown", "sessions", "server"),
        ("clear", "counters"),
    }
)

# commands about streams, which are each worker's own: their answer covers
# every worker's (a stream's id carries its worker: runtime/sessions.py sid)
GATHERED = frozenset({("show", "sess"), ("shutdown", "session")})
_NOT_FOUND = {
    ("show", "sess"): "Session not found.\n",
    ("shutdown", "session"): "No such session (use 'show sess').\n",
}

SLOTS = Counters.__slots__
_HRSP = SLOTS.index("hrsp")
# maxima: the largest of the workers' (a lower bound of the process-wide one)
_MAXIMA = frozenset(SLOTS.index(f) for f in ("smax", "qmax", "rate_max", "lastsess", "smax_reset"))
_SCALAR = (int, float, str, bool, type(None))


def check_fields(check: Any) -> dict[str, Any]:
    """What a check shows: its public plain attributes, its status by code."""
    out = {k: v for k, v in vars(check).items() if k[0] != "_" and type(v) in _SCALAR}
    out["status"] = check.status.code
    return out


class Share:
    """A worker's link to its master and what goes through it."""

    def __init__(self, fd: int, relative: int, nbthread: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self.relative = relative
        self.nbthread = nbthread
        self.owner = relative == 1
        self.frames = Frames()
        self.out = bytearray()
        self.loop: Any = None
        self.rt: Any = None
        self.on_eof: Callable[[], None] | None = None
        self.closed = False
        self._writing = False
        self._snapshot: list[Any] | None = None
        self._ident = 0
        self._wanted: set[int] = set()  # the answers being waited for
        self._done: dict[int, list[Any]] = {}  # the others' answers
        self._gathered: dict[int, list[Any]] = {}
        self._backlog: list[list[Any]] = []  # repl received before the CLI runs
        # servers by (backend, server) and their checks ("check", "agent"):
        # ``reindex`` after a CLI command (add server, del server)
        self.servers: dict[tuple[str, str], Any] = {}
        self.checks: dict[Any, dict[str, Any]] = {}
        # the owner's last published record of each server, what changed since
        self.known: dict[Any, dict[str, Any]] = {}
        self.dirty: set[Any] = set()
        self._flush: Any = None
        # counters: the other workers' snapshots of this loop iteration
        # (objects by name: ``counters_snapshot``) and their sums
        self._others: list[dict[str, Any]] | None = None
        self._sums: dict[Any, Counters] = {}

    # ---- start --------------------------------------------------------------------

    def attach(self, rt: Any) -> None:
        """Right after ``dataplane.start`` (no check has run yet): apply the
        master's snapshot, then own the checks or stop them."""
        self.rt = rt
        self.loop = rt.loop
        rt.share = self
        sched = rt.checks
        if not self.owner and sched is not None:
            sched.close()
            sched.out.reporter = _Mute()  # tracking copies state silently here
            sched.out.log = None
        self.reindex()
        if not self.wait(lambda: self._snapshot is not None):
            raise RuntimeError("no state snapshot from the master")
        self.apply(self._snapshot or [])
        self._snapshot = None
        if self.owner:
            for srv in self.servers.values():
                self.known[srv] = self.record(srv)
            if sched is not None:
                sched.on_result = lambda check: self.touched(check.server)
        self.loop.add_reader(self.sock.fileno(), self._readable)
        if self.nbthread > 1:
            from pyhaproxy.runtime import stats

            stats.SUMS = self

    def reindex(self) -> None:
        """Find the servers and checks (again: a CLI command may have added
        or deleted some); the owner watches every server, the others never
        run a check (``add server ... check`` starts one in each worker)."""
        rt = self.rt
        self.servers = {(be.name, s.name): s for be in rt.backends.values() for s in be.servers}
        sched = rt.checks
        self.checks = {}
        for c in sched.checks if sched is not None else []:
            self.checks.setdefault(c.server, {})["agent" if c.agent else "check"] = c
        if self.owner:
            live = set(self.servers.values())
            self.known = {s: r for s, r in self.known.items() if s in live}
            for srv in live:
                if self.touched not in srv.watchers:
                    srv.watchers.append(self.touched)
        elif sched is not None:
            sched.close()
            for c in sched.checks:
                observer = getattr(c, "observer", None)
                if observer is not None:
                    # a mirror: what its observer concludes is the owner's to apply
                    observer.forward = functools.partial(self._forward_result, c)

    def cli_ready(self) -> None:
        """The CLI runs: commands replicated meanwhile run now, in order."""
        backlog, self._backlog = self._backlog, []
        for msg in backlog:
            self._dispatch(msg)

    def stop_checks(self) -> None:
        """A soft stop: the next generation checks the servers."""
        if self.rt is not None and self.rt.checks is not None:
            self.rt.checks.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.loop is not None:
            with contextlib.suppress(ValueError, OSError):
                self.loop.remove_reader(self.sock.fileno())
            if self._writing:
                with contextlib.suppress(ValueError, OSError):
                    self.loop.remove_writer(self.sock.fileno())
        self.sock.close()

    # ---- the link -------------------------------------------------------------------

    def send(self, msg: list[Any]) -> None:
        if self.closed:
            return
        self.out += frame(msg)
        self._write()

    def _write(self) -> None:
        try:
            while self.out:
                del self.out[: self.sock.send(self.out)]
        except BlockingIOError:
            pass
        except OSError:
            self.out.clear()
        want = bool(self.out) and self.loop is not None
        if want != self._writing:
            if want:
                self.loop.add_writer(self.sock.fileno(), self._write)
            else:
                self.loop.remove_writer(self.sock.fileno())
            self._writing = want

    def _receive(self) -> bool:
        """Read what is there and handle it; False at the master's end."""
        while True:
            try:
                data = self.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                data = b""
            if not data:
                return False
            for msg in self.frames.feed(data):
                self._dispatch(msg)

    def _readable(self) -> None:
        if not self._receive():
            self.close()
            if self.on_eof is not None:
                self.on_eof()

    def wait(self, done: Callable[[], bool], timeout: float = WAIT) -> bool:
        """Block (this worker's loop too) until ``done()``, handling the
        link meanwhile; False after ``timeout`` or at the master's end."""
        deadline = time.monotonic() + timeout
        fd = self.sock.fileno()
        poll = select.poll()
        while not done():
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return False
            poll.register(fd, select.POLLIN | (select.POLLOUT if self.out else 0))
            events = 0
            for _fd, ev in poll.poll(left * 1000):
                events |= ev
            if events & select.POLLOUT:
                self._write()
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR) and not self._receive():
                self.close()
                if self.on_eof is not None:
                    self.loop.call_soon(self.on_eof)
                return done()
        return True

    def _dispatch(self, msg: list[Any]) -> None:
        kind = msg[0]
        if kind == "state":
            self.apply(msg[1])
        elif kind == "snapshot":
            self._snapshot = msg[1]
        elif kind == "repl":
            if self.rt is None or self.rt.cli is None:
                self._backlog.append(msg)
                return
            self.send(["ack", msg[1], msg[2], self._replay(msg[3:])])
        elif kind == "result" and self.owner:
            self._result(*msg[2:])
        elif kind == "gather":
            self.send(["counters", msg[1], msg[2], self.counters_snapshot()])
        elif kind == "done" and msg[1] in self._wanted:
            self._done[msg[1]] = msg[2]
        elif kind == "gathered" and msg[1] in self._wanted:
            self._gathered[msg[1]] = msg[2]

    def _request(self, msg: list[Any], got: Callable[[int], bool]) -> int | None:
        """Send ``msg`` with a new id; wait for ``got(id)``: the id, or
        None after ``WAIT`` (a late answer is then dropped)."""
        self._ident += 1
        ident = self._ident
        self._wanted.add(ident)
        self.send([msg[0], ident, *msg[1:]])
        ok = self.wait(lambda: got(ident))
        self._wanted.discard(ident)
        return ident if ok else None

    # ---- observed traffic ---------------------------------------------------------

    def _forward_result(self, check: Any, status: st.Status, code: int, desc: str) -> None:
        """A mirror's ``set_status`` (its observer's ``on-error``): sent to
        the owner with the health the observer left (``sudden-death``,
        ``mark-down`` lower it first)."""
        srv = check.server
        self.send(
            ["owner", "result", srv.backend.name, srv.name, check.health, status.code, code, desc]
        )

    def _result(
        self, bname: str, sname: str, health: int, status: str, code: int, desc: str
    ) -> None:
        """The owner: another worker's observer acts on the health check."""
        srv = self.servers.get((bname, sname))
        check = self.checks.get(srv, {}).get("check") if srv is not None else None
        if check is None:
            return
        check.health = min(check.health, health)
        check.duration = -1  # set_server_check_status: none for HANA
        check.set_status(st.BY_CODE.get(status, st.HANA), code, desc)
        if check.fastinter:
            check.hasten(check.fastinter / 1000.0)
        self.touched(srv)

    # ---- server state -----------------------------------------------------------

    def record(self, srv: Any) -> dict[str, Any]:
        """The shared fields of ``srv``: what every worker must agree on."""
        rec: dict[str, Any] = {
            "state": srv.state,
            "admin": srv.admin,
            "uweight": srv.uweight,
            "addr": [srv.family, srv.host, srv.port],
        }
        if not getattr(srv, "ramp", 0):  # slowstart lowers it in each worker
            rec["maxconn"] = srv.maxconn
        for kind, check in self.checks.get(srv, {}).items():
            rec[kind] = check_fields(check)
        return rec

    def touched(self, srv: Any) -> None:
        """The owner: ``srv`` may have changed; published at the end of
        this loop iteration."""
        self.dirty.add(srv)
        if self._flush is None:
            self._flush = self.loop.call_soon(self._publish)

    def _publish(self) -> None:
        self._flush = None
        records = []
        for srv in self.dirty:
            rec = self.record(srv)
            old = self.known.get(srv, {})  # a server added since: all of it
            delta = {k: v for k, v in rec.items() if old.get(k) != v}
            if delta:
                self.known[srv] = rec
                records.append([srv.backend.name, srv.name, delta])
        self.dirty.clear()
        if records:
            self.send(["state", records])

    def apply(self, records: list[Any]) -> None:
        """Take the owner's state (``[backend, server, fields]`` each)."""
        for bname, sname, fields in records:
            srv = self.servers.get((bname, sname))
            if srv is None:
                continue
            if "admin" in fields:
                srv.set_admin(fields["admin"])
            if "uweight" in fields:
                srv.set_weight(fields["uweight"])
            if "maxconn" in fields and not getattr(srv, "ramp", 0):
                srv.maxconn = fields["maxconn"]
            if "addr" in fields:
                family, host, port = fields["addr"]
                if (family, host, port) != (srv.family, srv.host, srv.port):
                    srv.family, srv.host, srv.port = family, host, port
                    srv.pool.close_all()  # idle connections went to the old address
            for kind in ("check", "agent"):
                check = self.checks.get(srv, {}).get(kind)
                if kind in fields and check is not None:
                    for k, v in fields[kind].items():
                        if k == "status":
                            check.status = st.BY_CODE.get(v, st.UNK)
                        else:
                            setattr(check, k, v)
            if "state" in fields:
                srv.set_state(fields["state"])

    # ---- CLI commands -----------------------------------------------------------

    def ran(self, words: tuple[str, ...], line: str, level: int, text: str | None) -> str | None:
        """After a CLI command ran here (``runtime/cli.py``): a state change
        runs in every other worker before ``text`` is answered."""
        if words in GATHERED:
            return self._streams_answer(words, line, level, text)
        if words not in REPLICATED:
            return text
        self._after_command()  # alone too: a replacement starts from it
        if self.nbthread <= 1:
            return text
        answers = self._replicate(["cli", level, line])
        if answers is None:
            return (text or "") + "Warning: not every worker confirmed this change in time.\n"
        # a change that depends on a worker's own streams (del server) may
        # be refused by another: say so, never leave the workers silently apart
        warn = "".join(
            f"Warning: worker {pid} answered: {other.rstrip()}\n"
            for pid, other in answers
            if other != (text or "")
        )
        return (text or "") + warn

    def _streams_answer(
        self, words: tuple[str, ...], line: str, level: int, text: str | None
    ) -> str | None:
        """``show sess``: the streams of every worker, this one's first;
        ``show sess <id>`` / ``shutdown session <id>``: the worker that has
        it answers."""
        args = line.split()
        arg = args[2] if len(args) > 2 else ""
        missing = _NOT_FOUND[words]
        by_id = words == ("shutdown", "session") or arg not in ("", "all")
        if self.nbthread <= 1 or (by_id and text != missing):
            return text
        answers = self._replicate(["cli", level, line])
        if answers is None:
            return (text or "") + "Warning: not every worker answered in time.\n"
        if not by_id:
            return (text or "") + "".join(other for _pid, other in answers)
        for _pid, other in answers:
            if other != missing:
                return other or None
        return text

    def posted(self, body: bytes, code: str) -> str:
        """After the stats page's admin form changed servers here
        (``runtime/page.py``, ``code`` its ``st=`` outcome): the same
        change in every other worker before the answer."""
        self._after_command()
        if self.nbthread <= 1:
            return code
        answers = self._replicate(["web", body.decode("latin-1")])
        if answers is None:
            log.error("not every worker confirmed a stats page change in time")
            return code
        for pid, other in answers:
            if other != code:
                log.error("stats page change: st=%s here, st=%s in worker %d", code, other, pid)
        return code

    def _replicate(self, op: list[Any]) -> list[Any] | None:
        """Make ``op`` in the other ready workers: their ``[pid, answer]``
        pairs, or None if some did not answer in time."""
        ident = self._request(["repl", *op], self._done.__contains__)
        return None if ident is None else self._done.pop(ident)

    def _replay(self, op: list[Any]) -> str:
        """Make another worker's change here (its messages muted unless
        this worker owns the checks: they are said once); its answer."""
        from pyhaproxy.runtime import admin, commands
        from pyhaproxy.runtime.cli import CliSession, split_words

        answer: str | None = ""
        try:
            if op[0] == "web":
                answer = admin.apply(self.rt.cli, op[1].encode("latin-1"))
            else:
                level, line = op[1], op[2]
                args, payload = split_words(line)
                cmd = commands.find(args)
                if cmd is not None:
                    answer = cmd.handler(CliSession(self.rt.cli, level), args, payload)
        except Exception:  # noqa: BLE001 - as the CLI: a bug must not stop the worker
            log.exception("replicated change %r failed", op)
            answer = "Internal error.\n"
        self._after_command()
        return answer or ""

    def _after_command(self) -> None:
        """After a state-changing CLI command: servers may have come or
        gone; the owner compares every server (``maxconn``, ``addr``, a
        check's fields have no watchers)."""
        self.reindex()
        if self.owner:
            for srv in self.servers.values():
                self.touched(srv)

    # ---- counters ---------------------------------------------------------------

    def counters_snapshot(self) -> dict[str, Any]:
        """This worker's counters: of frontends and backends by name, of
        servers by ``backend/server``; ``[counters, gauges...]`` each."""
        rt = self.rt
        cli = rt.cli
        base = cli.lbtot_base if cli is not None else {}

        def vals(c: Counters) -> list[Any]:
            return [getattr(c, f) for f in SLOTS]

        return {
            "fe": {fe.name: [vals(fe.c)] for fe in rt.frontends},
            "be": {be.name: [vals(be.c), len(be.queue)] for be in rt.backends.values()},
            "srv": {
                f"{be.name}/{s.name}": [
                    vals(s.c),
                    s.cur,
                    s.total - base.get(s, 0),
                    len(s.pool.idle),
                ]
                for be in rt.backends.values()
                for s in be.servers
            },
            "proc": {
                "sessions": len(rt.sessions),
                "accepted": cli.accepted if cli is not None else 0,
            },
        }

    def _gather(self) -> list[dict[str, Any]]:
        if self._others is not None:
            return self._others
        ident = self._request(["gather"], self._gathered.__contains__)
        if ident is None:
            raise RuntimeError("the other workers' counters did not arrive in time")
        self._others = self._gathered.pop(ident)
        self.loop.call_soon(self._forget)
        return self._others

    def _forget(self) -> None:
        self._others = None
        self._sums.clear()

    @staticmethod
    def _key(obj: Any) -> tuple[str, str]:
        if isinstance(obj, ServerRT):
            return "srv", f"{obj.backend.name}/{obj.name}"
        return ("be" if isinstance(obj, BackendRT) else "fe"), obj.name

    def _entries(self, obj: Any) -> list[list[Any]]:
        """The other workers' entries of ``obj`` (a worker that does not
        have it, a server added meanwhile, has nothing to add)."""
        kind, key = self._key(obj)
        return [s[kind][key] for s in self._gather() if key in s[kind]]

    def counters(self, obj: Any) -> Counters:
        """``obj.c`` plus the other workers' counters of the same object."""
        got = self._sums.get(obj)
        if got is not None:
            return got
        rows = [e[0] for e in self._entries(obj)]
        total = Counters()
        for pos, name in enumerate(SLOTS):
            mine = getattr(obj.c, name)
            if pos == _HRSP:
                value = list(mine)
                for r in rows:
                    value = [a + b for a, b in zip(value, r[pos], strict=False)]
            elif pos in _MAXIMA:
                value = max([mine, *(r[pos] for r in rows)])
            else:
                value = mine + sum(r[pos] for r in rows)
            setattr(total, name, value)
        self._sums[obj] = total
        return total

    _GAUGES = {"srv": {"cur": 1, "lbtot": 2, "idle": 3}, "be": {"queue": 1}}

    def others(self, obj: Any, name: str) -> int:
        """The other workers' sum of a gauge: a server's ``cur``, ``lbtot``
        and ``idle``, a backend's ``queue``; the process's ``sessions`` and
        ``accepted`` (``obj`` None)."""
        if obj is None:
            return sum(s["proc"][name] for s in self._gather())
        pos = self._GAUGES[self._key(obj)[0]][name]
        return sum(e[pos] for e in self._entries(obj))


class _Mute:
    """A reporter that says nothing: the owner reports state changes."""

    sink = None

    def alert(self, *args: Any, **kwargs: Any) -> None:
        pass

    def warning(self, *args: Any, **kwargs: Any) -> None:
        pass

    notice = warning
