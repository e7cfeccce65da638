"""A serving process: event loop, signals, pid file (management.txt §4).

Signals, as HAProxy in a single process (and in each master-worker worker):
- SIGTERM / SIGINT: hard stop; the process then dies by that same signal,
  as HAProxy does (a shell sees 143 / 130).  Handlers are installed
  explicitly, so the process stops even when started with them ignored.
- SIGUSR1: soft stop; listeners close, connections in flight finish, exit
  0; ``hard-stop-after`` bounds it (configuration.txt §3.1).

``run`` is the single-process mode (``-db``, ``-D``, ``-sf/-st``); the
master-worker mode is ``pyhaproxy.master``, whose workers run ``serve``.
The data plane is started through ``pyhaproxy.dataplane.start`` and is the
only thing this module knows of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import uvloop

from pyhaproxy.master import system
from pyhaproxy.messages import Reporter

if TYPE_CHECKING:
    from pyhaproxy.cli import Options
    from pyhaproxy.config.model import Config


class _Stop:
    def __init__(self) -> None:
        self.signal: int | None = None
        self.soft = False
        self.event = asyncio.Event()
        self.hard_event = asyncio.Event()

    def hard(self, signum: int) -> None:
        self.signal = signum
        self.event.set()
        self.hard_event.set()

    def graceful(self) -> None:
        self.soft = True
        self.event.set()


def signal_old(pids: list[int], terminate: bool) -> None:
    """``-sf`` / ``-st``: the processes being replaced finish (SIGUSR1) or
    terminate (SIGTERM) once this one serves (management.txt §4)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM if terminate else signal.SIGUSR1)


async def serve(
    config: Config,
    reporter: Reporter,
    ready: Callable[[], None],
    opener: Any = None,
    linger: float = 0.0,
    share: Any = None,
    stopped: Callable[[], None] | None = None,
    cli_channel: int | None = None,
) -> int | None:
    """Serve ``config`` until a signal; ``ready()`` once accepting,
    ``stopped()`` once a soft stop no longer accepts.  Returns the exit
    status, or minus the signal to die by.  ``share`` (a worker's link to
    its master, ``master/share.py``): attached to the runtime before it
    serves, its end of file stops the process, a soft stop ends its
    checks.  ``cli_channel`` (a worker's): the master CLI's connections to
    this worker's runtime API."""
    from pyhaproxy import dataplane

    loop = asyncio.get_running_loop()
    stop = _Stop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.hard, signum)
    loop.add_signal_handler(signal.SIGUSR1, stop.graceful)
    try:
        if opener is None:
            runtime = await dataplane.start(config, reporter)
        else:
            runtime = await dataplane.start(config, reporter, opener)
    except dataplane.StartError as exc:
        for line in str(exc).splitlines():
            reporter.alert(line, context=None)
        return 1
    orphan = False
    if share is not None:

        def master_gone() -> None:
            nonlocal orphan
            orphan = True
            stop.event.set()

        share.on_eof = master_gone
        try:  # before any check runs: nothing awaited since dataplane.start
            share.attach(runtime)
        except RuntimeError as exc:
            reporter.alert(f"worker: {exc}", context=None)
            runtime.close()
            return 1
    from pyhaproxy.runtime import attach_cli  # the stats sockets (runtime API)

    if not await attach_cli(config, runtime, reporter, opener):
        return 1
    if cli_channel is not None:  # served until the process exits, soft stop included
        runtime.cli.serve_channel(cli_channel)
    if share is not None:
        share.cli_ready()
    try:
        ready()
    except system.SetupError as exc:
        reporter.alert(str(exc), context=None)
        runtime.close()
        return 1
    await stop.event.wait()
    if orphan:  # the master died: nobody would reap or reload us
        runtime.close()
        return 0
    if stop.soft and stop.signal is None:
        reporter.warning(f"Proxy stopping (pid {os.getpid()}).", context=None)
        if share is not None:  # the new generation checks the servers
            share.stop_checks()
        if runtime.cli is not None:  # the stats sockets stop accepting too
            runtime.cli.stop_listening()
        # a SIGTERM/SIGINT during the soft stop still stops at once
        soft = asyncio.ensure_future(runtime.soft_stop(linger))
        hard = asyncio.ensure_future(stop.hard_event.wait())
        await asyncio.sleep(0)  # soft_stop closes the listeners first
        if stopped is not None:
            stopped()
        after = config.global_.hard_stop_after
        await asyncio.wait(
            {soft, hard},
            timeout=after / 1000 if after else None,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if soft.done():
            hard.cancel()
            return 0
        soft.cancel()
        if not hard.done():  # hard-stop-after expired
            hard.cancel()
            reporter.warning("soft-stop running for too long, performing a hard-stop.", None)
            runtime.close()
            return 0
    runtime.close()
    return -stop.signal if stop.signal else 0


def exit_status(status: int | None) -> int:
    """Turn ``serve``'s result into an exit status, dying by a signal when
    it asks to, as HAProxy does."""
    if status is not None and status < 0:
        signum = -status
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return 128 + signum
    return status or 0


def run(config: Config, opts: Options, reporter: Reporter) -> int:
    """Serve in one process until stopped; returns the exit status (or dies
    by a signal).  ``-D``/``daemon`` forks into the background first; the
    user/group/chroot are applied once the listeners are bound."""
    try:
        system.apply_fd_limit(config)
    except system.SetupError as exc:
        reporter.alert(str(exc), context=None)
        return 1
    daemon_fd = system.daemonize() if opts.daemon or config.global_.daemon else None

    def ready() -> None:
        system.write_pidfile(opts.pidfile, os.getpid())
        system.drop_privileges(config)
        signal_old(opts.old_pids, opts.terminate_old)
        system.daemon_ready(daemon_fd)

    status = uvloop.run(serve(config, reporter, ready))
    return exit_status(status)
