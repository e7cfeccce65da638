"""A worker of the master-worker mode, right after its fork.

It serves its share of the master's listening sockets (inherited; the
slot sockets of its number, ``sockets.share`` and ``sockets.opener``),
the stats sockets among them, and the runtime API on its private channel
to the master (the master CLI's ``@<n>``), with the configuration the
master loaded, drops privileges once serving,
reports ``ready`` on its link to the master when it accepts and
``stopped`` when a soft stop has closed its listeners, and stops when the
master goes away (end of file on that link).  The link also carries what
the workers share (``share.py``: server state, checks, CLI changes,
counters).  Signals as a single process
(``process.serve``); a soft stop lets idle keep-alive connections linger
(``Runtime.soft_stop``) so a reload never resets a client's next request.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import TYPE_CHECKING, NoReturn

import uvloop

from pyhaproxy import process
from pyhaproxy.master import system
from pyhaproxy.master.share import Share
from pyhaproxy.master.sockets import opener
from pyhaproxy.messages import Reporter

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config
    from pyhaproxy.master.sockets import Table

# an idle keep-alive connection of a stopping worker is closed after this
# long without a request (seconds); a busy one gets "Connection: close"
LINGER = 1.0


def main(
    config: Config,
    table: Table,
    link: int,
    quiet: bool,
    daemon: bool,
    channel: int | None = None,
    relative: int = 1,
) -> NoReturn:
    """Serve until stopped, then exit (or die by the stopping signal).
    ``channel``: where the master CLI passes connections to this worker's
    runtime API (``runtime.server.CliServer.serve_channel``); ``relative``:
    its number in its generation (1 owns the checks, ``share.py``)."""
    status = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGHUP, signal.SIGUSR2):
            signal.signal(signum, signal.SIG_DFL)
        reporter = Reporter(quiet=quiet)
        reporter._banner_done = True  # the master printed it
        share = Share(link, relative, config.global_.nbthread or 1)

        def ready() -> None:
            system.drop_privileges(config)
            share.send(["ready"])
            if daemon:  # as the master: a daemon's messages go nowhere
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.close(null)

        def stopped() -> None:
            share.send(["stopped"])

        result = uvloop.run(
            process.serve(
                config,
                reporter,
                ready,
                opener(table),
                LINGER,
                share=share,
                stopped=stopped,
                cli_channel=channel,
            )
        )
        sys.stderr.flush()
        status = process.exit_status(result)
    except BaseException:  # noqa: BLE001 - a worker must never return into the master's code
        traceback.print_exc()
    os._exit(status)
