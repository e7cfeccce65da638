"""Running process: event loop, signals, pid file (management.txt §4).

Signals, as HAProxy in a single process:
- SIGTERM / SIGINT: hard stop; the process then dies by that same signal,
  as HAProxy does (a shell sees 143 / 130).  Handlers are installed
  explicitly, so the process stops even when started with them ignored.
- SIGUSR1: soft stop; listeners close, connections in flight finish, exit 0.

The data plane is started through ``pyhaproxy.dataplane.start`` and is the
only thing this module knows of it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import TYPE_CHECKING

import uvloop

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


async def _serve(config: Config, opts: Options, reporter: Reporter) -> int | None:
    from pyhaproxy import dataplane

    loop = asyncio.get_running_loop()
    stop = _Stop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.hard, signum)
    loop.add_signal_handler(signal.SIGUSR1, stop.graceful)
    try:
        runtime = await dataplane.start(config, reporter)
    except dataplane.StartError as exc:
        for line in str(exc).splitlines():
            reporter.alert(line, context=None)
        return 1
    if opts.pidfile:
        with open(opts.pidfile, "w") as fh:
            fh.write(f"{os.getpid()}\n")
    await stop.event.wait()
    if stop.soft and stop.signal is None:
        reporter.warning(f"Proxy stopping (pid {os.getpid()}).", context=None)
        # a SIGTERM/SIGINT during the soft stop still stops at once
        soft = asyncio.ensure_future(runtime.soft_stop())
        hard = asyncio.ensure_future(stop.hard_event.wait())
        await asyncio.wait({soft, hard}, return_when=asyncio.FIRST_COMPLETED)
        if soft.done():
            hard.cancel()
            return 0
        soft.cancel()
    runtime.close()
    return -stop.signal if stop.signal else 0


def run(config: Config, opts: Options, reporter: Reporter) -> int:
    """Serve until stopped; returns the exit status (or dies by a signal)."""
    status = uvloop.run(_serve(config, opts, reporter))
    if status is not None and status < 0:
        signum = -status
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return 128 + signum
    return status or 0
