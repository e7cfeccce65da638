"""The master process of the master-worker mode (``-W``, ``-Ws``,
``master-worker``; management.txt §4 "Stopping and restarting HAProxy",
§9.4 "Master CLI").

Invariants:
- the master binds every listener (``sockets.Sockets``) and never serves;
  it forks ``nbthread`` workers (default 1) that inherit the sockets;
- a generation is the set of workers of one configuration load; the
  *current* generation serves; a reload starts a new generation on the same
  sockets and, only once all its workers accept, tells the previous one to
  soft-stop (SIGUSR1): there is always someone accepting or a backlog
  queueing, so no connection is refused or reset;
- a configuration that fails to load, or workers that fail to start, leave
  the current generation serving ("Loading failure!");
- a current worker that dies is reported and replaced; the replacement
  starts from the server state its generation published (``link.Hub``);
- the master relays what the workers of a generation share (``link.py``,
  ``share.py``) and never blocks on a worker;
- SIGTERM / SIGINT / SIGUSR1 go to every worker; once they are gone the
  master exits with the first abnormal status of a current worker, 0 and
  143 being normal, as HAProxy's: 130 after SIGINT, 0 after SIGTERM (the
  worker's 143 is reported) and after SIGUSR1 (a soft stop).

The loop is a plain ``selectors`` loop, not asyncio: forking from inside a
running event loop would hand the loop's state to the child.
"""

from __future__ import annotations

import contextlib
import io
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyhaproxy.master import mcli, system, worker
from pyhaproxy.master.link import FrameError, Frames, Hub
from pyhaproxy.master.notify import Notifier
from pyhaproxy.master.sockets import Sockets, Table, every, share
from pyhaproxy.master.sockets import close as close_socket
from pyhaproxy.messages import Reporter

if TYPE_CHECKING:
    from pyhaproxy.cli import Options
    from pyhaproxy.config.model import Config

SIGNALS = (
    signal.SIGCHLD,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGHUP,
    signal.SIGTERM,
    signal.SIGINT,
)


class _Tee(io.TextIOBase):
    """stderr, and a copy kept for the master CLI's ``reload`` answer."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()


@dataclass(eq=False)
class Worker:
    pid: int
    link: socket.socket
    generation: Generation
    # the master end of the worker's runtime API channel (mcli "@<n>")
    channel: socket.socket | None = None
    relative: int = 0  # its number among its generation's workers, 1..nbthread
    started: float = field(default_factory=time.time)
    ready: bool = False
    former: bool = False
    out: bytearray = field(default_factory=bytearray)  # frames not sent yet (link.py)
    frames: Frames = field(default_factory=Frames)
    writing: bool = False  # the link is selected for writing


@dataclass(eq=False)
class Generation:
    """The workers of one configuration load."""

    number: int  # reloads before it
    config: Config
    table: Table  # every socket of its configuration (sockets.Sockets.bind_all)
    workers: list[Worker] = field(default_factory=list)
    messages: str = ""
    waiters: list[Any] = field(default_factory=list)  # CLI connections awaiting "reload"
    # workers it replaces that still accept: "reload" is answered once none do
    replacing: set[int] = field(default_factory=set)
    # the server state its check owner published (link.py), by (backend, server)
    state: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def status_text(status: int) -> str:
    """HAProxy's "code N (reason)": a signal's name, or "Exit"."""
    if status >= 128:
        with contextlib.suppress(ValueError):
            return signal.strsignal(status - 128) or "Exit"
    return "Exit"


class Master:
    def __init__(self, opts: Options, config: Config, reporter: Reporter) -> None:
        self.opts = opts
        self.reporter = reporter
        self.notifier = Notifier(opts.systemd)
        self.sockets = Sockets()
        self.sel = selectors.DefaultSelector()
        self.current: Generation | None = None
        self.pending: Generation | None = None
        self.workers: dict[int, Worker] = {}
        self.reloads = 0
        self.failed_reloads = 0
        self.started = time.time()
        self.stopping = False
        self.exit_code = 0
        self.cli = mcli.MasterCLI(self)
        self.hub = Hub(self)
        self._first = Generation(0, config, {})
        self.daemon = opts.daemon or config.global_.daemon
        self._daemon_fd: int | None = None
        self._wake_r, self._wake_w = os.pipe()

    # ---- start and main loop ------------------------------------------------

    def run(self) -> int:
        config = self._first.config
        try:
            specs = [mcli.parse_spec(spec) for spec in self.opts.master_cli]
        except mcli.SpecError as exc:
            self.reporter.alert(str(exc))
            self.reporter.alert("Can't create the master's CLI.")
            return 1
        try:
            system.apply_fd_limit(config)
        except system.SetupError as exc:
            self.reporter.alert(str(exc), context=None)
            return 1
        table, failures = self.sockets.bind_all(config)
        if failures:
            for line in failures:
                self.reporter.alert(line, context=None)
            self.reporter.alert(
                f"[{sys.argv[0]}.main()] Some protocols failed to start their listeners! Exiting.",
                context=None,
            )
            return 1
        self.sockets.adopt(table)
        self._first.table = table
        try:
            self.cli.bind(specs)
        except OSError as exc:
            self.reporter.alert(str(exc), context=None)
            self.reporter.alert(
                f"[{sys.argv[0]}.main()] Some protocols failed to start their listeners! Exiting.",
                context=None,
            )
            self.cli.close()
            self.sockets.close_all()
            return 1
        if self.daemon:
            self._daemon_fd = system.daemonize()
        system.write_pidfile(self.opts.pidfile, os.getpid())
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._wake_w)
        for signum in SIGNALS:
            signal.signal(signum, lambda *_: None)
        self.sel.register(self._wake_r, selectors.EVENT_READ, self._on_signals)
        self.pending = self._first
        self._spawn(self._first)
        try:
            return self._loop()
        finally:
            signal.set_wakeup_fd(-1)
            self.cli.close()
            self.sockets.close_all()

    def _loop(self) -> int:
        while True:
            for key, _mask in self.sel.select(1.0):
                key.data(key.fileobj)
            if self.stopping and not self.workers:
                code = self.exit_code if self.exit_code > 0 else 0
                self.reporter.warning(f"All workers exited. Exiting... ({code})", context=None)
                return code

    def _on_signals(self, _fd: Any) -> None:
        try:
            data = os.read(self._wake_r, 512)
        except BlockingIOError:
            return
        for signum in data:
            if signum == signal.SIGCHLD:
                self._reap()
            elif signum in (signal.SIGUSR2, signal.SIGHUP):
                self.reload()
            elif signum in (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT):
                self.reporter.warning("Exiting Master process...", context=None)
                self._stop(signum)
        self._reap()  # SIGCHLDs may merge

    def _stop(self, signum: int) -> None:
        if not self.stopping:
            self.notifier.stopping()
        self.stopping = True
        for w in list(self.workers.values()):
            with contextlib.suppress(OSError):
                os.kill(w.pid, signum)

    # ---- workers --------------------------------------------------------------

    def _spawn(self, gen: Generation) -> None:
        n = gen.config.global_.nbthread or 1
        while len([w for w in gen.workers if w.pid in self.workers]) < n:
            self._fork(gen)

    def _fork(self, gen: Generation) -> Worker:
        mine, theirs = socket.socketpair()
        # the runtime API channel: SOCK_SEQPACKET keeps one passed socket
        # per message (runtime/server.py CliServer.serve_channel)
        chan, chan_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        used = {w.relative for w in gen.workers if w.pid in self.workers}
        relative = min(set(range(1, len(used) + 2)) - used)
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                mine.close()
                chan.close()
                self._close_in_child(gen, relative)
            except BaseException:  # noqa: BLE001
                traceback.print_exc()
                os._exit(1)
            worker.main(
                gen.config,
                share(gen.table, relative - 1, gen.config.global_.nbthread or 1),
                theirs.fileno(),
                self.reporter.quiet,
                self.daemon,
                chan_theirs.fileno(),
                relative,
            )
        theirs.close()
        chan_theirs.close()
        mine.setblocking(False)
        chan.setblocking(False)
        w = Worker(pid, mine, gen, channel=chan, relative=relative)
        gen.workers.append(w)
        self.workers[pid] = w
        self.sel.register(mine, selectors.EVENT_READ, lambda s, w=w: self._on_link(w))
        self.hub.started(w)
        self.reporter.notice(f"New worker ({pid}) forked", context=None)
        return w

    def want_write(self, w: Worker, on: bool) -> None:
        """Select ``w``'s link for writing too while frames wait (link.Hub)."""
        if on == w.writing or w.link.fileno() < 0:
            return
        w.writing = on
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if on else 0)
        with contextlib.suppress(KeyError, ValueError):
            self.sel.modify(w.link, events, lambda s, w=w: self._on_link(w))

    def _close_in_child(self, gen: Generation, relative: int) -> None:
        """A worker keeps its own sockets (its slot's share of ``gen``'s)
        and its link only."""
        n = gen.config.global_.nbthread or 1
        keep = {s.fileno() for s in every(share(gen.table, relative - 1, n))}
        fds = [self._wake_r, self._wake_w, self.sel.fileno(), *self.cli.fds()]
        fds += [w.link.fileno() for w in self.workers.values()]
        fds += [w.channel.fileno() for w in self.workers.values() if w.channel is not None]
        for table in (self.sockets.table, *(g.table for g in (self.current, self.pending) if g)):
            fds += [s.fileno() for s in every(table) if s.fileno() not in keep]
        if self._daemon_fd is not None:
            fds.append(self._daemon_fd)
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _on_link(self, w: Worker) -> None:
        if w.link.fileno() < 0:
            return  # reaped by an earlier event of the same select batch
        if w.out:
            self.hub.flush(w)
        try:
            data = w.link.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        try:
            msgs = w.frames.feed(data) if data else []
        except (FrameError, ValueError) as exc:
            self.reporter.alert(f"worker ({w.pid}): bad frame on its link ({exc})", context=None)
            data = b""
            msgs = []
        if not data:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(w.link)
            return
        for msg in msgs:
            if msg[0] == "ready" and not w.ready:
                w.ready = True
                gen = w.generation
                if gen is self.pending and all(x.ready for x in gen.workers):
                    self._switch(gen)
            elif msg[0] == "stopped":
                self._not_accepting(w.pid)
            else:
                self.hub.received(w, msg)

    def _not_accepting(self, pid: int) -> None:
        gen = self.current
        if gen is not None and pid in gen.replacing:
            gen.replacing.discard(pid)
            if not gen.replacing:
                self._answer(gen, True)

    def _switch(self, gen: Generation) -> None:
        """Every worker of ``gen`` accepts: it becomes current, the previous
        generation soft-stops."""
        old, self.current, self.pending = self.current, gen, None
        self.reporter.notice("Loading success.", context=None)
        self.notifier.ready()
        if old is None:  # first start
            from pyhaproxy import process

            process.signal_old(self.opts.old_pids, self.opts.terminate_old)
            system.daemon_ready(self._daemon_fd)
            self._daemon_fd = None
        else:
            for w in old.workers:
                if w.pid in self.workers:
                    w.former = True
                    gen.replacing.add(w.pid)
                    with contextlib.suppress(OSError):
                        os.kill(w.pid, signal.SIGUSR1)
        for sock in self.sockets.adopt(gen.table):
            with contextlib.suppress(OSError):
                close_socket(sock)  # addresses no longer listened on
        if not gen.replacing:
            self._answer(gen, True)

    def _reap(self) -> None:
        while True:
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            w = self.workers.pop(pid, None)
            if w is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(w.link)
            w.link.close()
            if w.channel is not None:
                w.channel.close()
                w.channel = None
            status = os.waitstatus_to_exitcode(raw)
            status = 128 - status if status < 0 else status
            self.hub.gone(pid)
            self._exited(w, status)
            self._not_accepting(pid)

    def _exited(self, w: Worker, status: int) -> None:
        what = f"worker ({w.pid}) exited with code {status} ({status_text(status)})"
        gen = w.generation
        if w.former:
            self.reporter.warning(f"Former {what}", context=None)
            return
        if status < 128:
            self.reporter.warning(f"Current {what}", context=None)
        else:
            self.reporter.alert(f"Current {what}", context=None)
        if self.stopping:
            if status not in (0, 143) and self.exit_code <= 0:
                # "0 & SIGTERM (143) are normal, but we should report SIGINT
                # (130) and other signals" (HAProxy's mworker)
                self.exit_code = status
            return
        if gen is self.pending and not w.ready:
            # a new generation failed to start: the current one goes on
            for x in gen.workers:
                if x.pid in self.workers:
                    with contextlib.suppress(OSError):
                        os.kill(x.pid, signal.SIGTERM)
                    x.former = True
            self.pending = None
            if self.current is None:
                self.exit_code = status or 1
                self._stop(signal.SIGTERM)
                return
            self.failed_reloads += 1
            self.reporter.warning("Loading failure!", context=None)
            self.notifier.ready()
            self._close_unused(gen)
            self._answer(gen, False)
            return
        if gen is self.current:
            self._fork(gen)  # replace it

    def _close_unused(self, gen: Generation, keep: Table | None = None) -> None:
        """Sockets bound for a generation that never served (but those of
        ``keep``, a generation that reuses them)."""
        held = {id(s) for s in every(self.sockets.table) + every(keep or {})}
        for sock in every(gen.table):
            if id(sock) not in held:
                with contextlib.suppress(OSError):
                    sock.close()

    # ---- reload -------------------------------------------------------------

    def reload(self, waiter: Any = None) -> None:
        """Load the configuration again and start a new generation on it
        (management.txt §4); ``waiter`` (a master CLI connection) is
        answered once it is known whether the reload worked."""
        from pyhaproxy.cli import load_runnable

        if self.stopping:
            return
        self.reloads += 1
        self.notifier.reloading()
        self.reporter.notice("Reloading HAProxy", context=None)
        tee = _Tee(self.reporter.stream)
        rep = Reporter(stream=tee, quiet=self.reporter.quiet)
        stale = self.pending
        if stale is not None:  # a reload during a reload: the newest wins
            self.pending = None
            for w in stale.workers:
                if w.pid in self.workers:
                    w.former = True
                    with contextlib.suppress(OSError):
                        os.kill(w.pid, signal.SIGTERM)
            self._answer(stale, False)
        config = None
        try:
            config = load_runnable(self.opts, rep)
        except Exception as exc:  # noqa: BLE001 - a reload must not kill the master
            rep.alert(f"{type(exc).__name__}: {exc}", context=None)
        table: Table = {}
        if config is not None:
            # the stale generation's new sockets may hold queued connections:
            # reused, not closed and bound again
            table, failures = self.sockets.bind_all(config, stale.table if stale else None)
            for line in failures:
                rep.alert(line, context=None)
            if failures:
                config = None
        if stale is not None:
            self._close_unused(stale, keep=table)
        gen = Generation(self.reloads, config, table)  # type: ignore[arg-type]
        if waiter is not None:
            gen.waiters.append(waiter)
        if config is None:
            self.failed_reloads += 1
            rep.warning("Loading failure!", context=None)
            gen.messages = tee.copy.getvalue()
            self.notifier.ready()
            self._answer(gen, False)
            return
        gen.messages = tee.copy.getvalue()
        self.pending = gen
        self._spawn(gen)

    def _answer(self, gen: Generation, ok: bool) -> None:
        for waiter in gen.waiters:
            self.cli.reload_done(waiter, ok, gen.messages)
        gen.waiters = []
