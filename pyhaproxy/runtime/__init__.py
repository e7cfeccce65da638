"""The runtime API: stats sockets and their commands (management.txt §9.3).

Module map: ``keywords`` (``stats`` in ``global`` and in proxies),
``model`` (what they configure), ``server`` (listening sockets, ids, the
context every report reads), ``cli`` (one connection: line discipline,
prompt, payloads, levels), ``commands`` (the registry, ``help``), and one
module per family of commands, each registering its commands beside its
code: ``basic`` (help, prompt, quit, levels), ``servers`` (weights, server
states, maxconn, shutdown, ``set server health|agent|check-*|agent-*``,
``enable|disable health|agent``), ``show`` (show info/stat/servers state/backend/
errors, clear counters), ``sessions`` (show sess, shutdown session),
``frontends`` (enable/disable/shutdown frontend, set maxconn
frontend|global),
``dynamic`` (add/del server), ``acls`` (show/get/add/del/clear/prepare/
commit acl), ``notyet`` (HAProxy commands pyhaproxy does not have yet,
which answer so).  Reports: ``stats`` (the ``show stat`` rows;
``read()`` is where worker counters are summed), ``health`` (servers'
checks as the reports show them: status words, check columns, downtime;
its ``Book`` links each server to its checks), ``page`` (the HTML/CSV
statistics page, its tables in ``htmltable``) and ``admin`` (its ``stats
admin`` form's POST),
``prometheus`` (``use-service prometheus-exporter``);
``ids``, ``stat_tags`` and ``prom_metrics`` are data.

This package is control plane: the data plane never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config
    from pyhaproxy.runtime.server import CliServer

__all__ = ["attach_cli", "start_cli"]


async def start_cli(config: Config, rt: Any, opener: Any = None) -> CliServer | None:
    """Open the ``stats socket`` listeners serving the runtime ``rt``;
    ``opener(bind, backlog)`` as the data plane's (a worker's inherited
    sockets), default ``open_bind``."""
    from pyhaproxy.runtime import (  # noqa: F401  (registration)
        acls,
        basic,
        dynamic,
        frontends,
        notyet,
        servers,
        sessions,
        show,
    )
    from pyhaproxy.runtime.server import start_cli as _start

    notyet.register()  # after every module: fills the gaps only
    return await _start(config, rt, opener)


async def attach_cli(config: Config, rt: Any, reporter: Any, opener: Any = None) -> bool:
    """Start the stats sockets as ``rt.cli`` (closed with ``rt``); on failure
    alert as HAProxy does, close ``rt`` and return False."""
    from pyhaproxy.runtime.server import CliError

    try:
        rt.cli = await start_cli(config, rt, opener)
        if rt.cli is not None:
            rt.cli.reporter = reporter  # warnings of commands (shutdown frontend)
    except CliError as exc:
        reporter.alert(str(exc), context=None)
        if exc.bind_failure:
            import sys

            reporter.alert(
                f"[{sys.argv[0]}.main()] Some protocols failed to start their listeners! Exiting.",
                context=None,
            )
        rt.close()
        return False
    return True
