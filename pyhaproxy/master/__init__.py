"""Process management: the master-worker mode (``-W``, ``-Ws``), reloads,
systemd notify, the master CLI (DESIGN.md "Process model").

Module map: ``master`` (the master process and its loop), ``worker`` (a
worker after its fork), ``link`` (the framed messages between the master and
a worker, and the master's relay of them), ``share`` (what the workers of a
generation share: server state, checks, runtime changes, counters),
``sockets`` (listening sockets kept across reloads), ``mcli`` (the master
CLI, ``-S``), ``notify`` (systemd's sd_notify), ``system`` (fd limit,
daemon, privileges; shared with the single process).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyhaproxy.cli import Options
    from pyhaproxy.config.model import Config
    from pyhaproxy.messages import Reporter

__all__ = ["run"]


def run(config: Config, opts: Options, reporter: Reporter) -> int:
    """Run the master until it stops; returns its exit status."""
    from pyhaproxy.master.master import Master

    return Master(opts, config, reporter).run()
