"""Building and starting the checks of a configuration (see the package doc)."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import agent, build, tls, track
from pyhaproxy.checks.runner import Check, Scheduler
from pyhaproxy.dataplane import StartError
from pyhaproxy.tls.certs import TlsError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyhaproxy.config.model import Config
    from pyhaproxy.messages import Reporter

__all__ = ["Check", "Scheduler", "start"]


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def start(
    config: Config,
    backends: dict[str, Any],
    reporter: Reporter,
    log: Callable[[str, int, str], None] | None = None,
) -> Scheduler:
    """One ``Check`` per server with ``check``, one agent check per
    ``agent-check``, ``track`` links; raises ``StartError`` for what cannot
    run (an agent without port, a tracked server not found).  A check over
    TLS gets its context here, once (tls.py)."""
    loop = asyncio.get_running_loop()
    spread = int(config.global_.tune.get("spread-checks", 0) or 0)
    sched = Scheduler(loop, reporter, spread, log)
    extra = tls.tls_extra(config)
    for px in config.proxies:
        be = backends.get(px.name)
        if be is None or px.disabled:
            continue
        try:
            ruleset = build.ruleset(px)
        except ValueError as exc:
            raise StartError(f"config : {px.kind} '{px.name}': {exc}") from None
        timeouts = px.settings.timeouts
        log_checks = bool(px.settings.options.get("log-health-checks"))
        models = {s.name: s for s in px.servers}
        for srv in be.servers:
            model = models.get(srv.name)
            if model is None:
                continue
            opts = model.options
            common = {
                "rise": opts.get("rise", 2),
                "fall": opts.get("fall", 3),
                "timeout_connect": timeouts.get("connect"),
                "timeout_check": timeouts.get("check"),
                "log_checks": log_checks,
            }
            main = None
            if opts.get("check") and not opts.get("no-check") and srv.family != "unix":
                host = opts.get("addr") or srv.host
                port = opts.get("port") or (0 if srv.port_map else srv.port)
                if not port:
                    raise StartError(
                        f"config : config: {px.kind} '{px.name}': server '{srv.name}' has "
                        "neither service port nor check port."
                    )
                check_tls = None
                if tls.needs_tls(opts, ruleset):
                    try:
                        check_tls = tls.for_server(f"'server {px.name}/{srv.name}'", model, extra)
                    except TlsError as exc:
                        raise StartError(f"config : {exc}") from None
                main = Check(
                    sched,
                    srv,
                    tls.bind_ruleset(ruleset, opts),
                    host=host,
                    port=port,
                    family=_family(host),
                    inter=opts.get("inter", 2000),
                    fastinter=opts.get("fastinter", 0),
                    downinter=opts.get("downinter", 0),
                    tls=check_tls,
                    **common,
                )
                sched.add(main)
            if opts.get("agent-check") and not opts.get("no-agent-check"):
                if not opts.get("agent-port"):
                    raise StartError(
                        f"config : [{model.where}] : 'server {px.name}/{srv.name}' : "
                        "agent-check enabled but no agent-port configured."
                    )
                host = opts.get("agent-addr") or opts.get("addr") or srv.host
                ach = Check(
                    sched,
                    srv,
                    agent.ruleset(opts.get("agent-send", "")),
                    host=host,
                    port=opts["agent-port"],
                    family=_family(host),
                    inter=opts.get("agent-inter", opts.get("inter", 2000)),
                    agent=True,
                    **common,
                )
                ach.main = main
                if main is not None:
                    main.agent_check = ach
                ach.on_agent_reply = agent.apply
                sched.add(ach)
    for px in config.proxies:
        be = backends.get(px.name)
        if be is None or px.disabled:
            continue
        models = {s.name: s for s in px.servers}
        for srv in be.servers:
            model = models.get(srv.name)
            spec = model.options.get("track") if model is not None else None
            if not spec:
                continue
            try:
                target = track.resolve(spec, px.name, backends)
            except track.TrackError as exc:
                raise StartError(
                    f"config : {px.kind} '{px.name}', server '{srv.name}': {exc}"
                ) from None
            track.follow(srv, target, sched.out)
    sched.start()
    return sched
