"""Building and starting the checks of a configuration (see the package doc).

In master-worker mode every worker builds the same checks; worker 1 of a
generation runs them and publishes their results, the others stop theirs
at once and keep them as mirrors of the published fields (the stats read
them): ``pyhaproxy/master/share.py``.  ``Scheduler.on_result`` is the hook
through which the owner learns of each completed check."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import agent, build, observe, slowstart, tls, track
from pyhaproxy.checks.runner import Check, Scheduler
from pyhaproxy.dataplane import StartError
from pyhaproxy.tls.certs import TlsError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyhaproxy.config.model import Config
    from pyhaproxy.messages import Reporter

__all__ = ["Check", "NoPort", "Scheduler", "server_checks", "start"]


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
        if px.kind == "listen":
            sched.out.kinds[px.name] = "proxy"  # HAProxy's proxy_type_str
        models = {s.name: s for s in px.servers}
        for srv in be.servers:
            model = models.get(srv.name)
            if model is None:
                continue
            opts = model.options
            slowstart.attach(srv, opts)  # slowstart (slowstart.py)
            observe.actions(srv, opts, lambda: sched.sessions)  # on-marked-down/up
            check_tls = None
            if tls.needs_tls(opts, ruleset) and _checked(opts, srv):
                try:
                    check_tls = tls.for_server(f"'server {px.name}/{srv.name}'", model, extra)
                except TlsError as exc:
                    raise StartError(f"config : {exc}") from None
            try:
                checks = server_checks(sched, px, srv, opts, ruleset, check_tls)
            except NoPort as exc:
                if exc.agent:
                    raise StartError(
                        f"config : [{model.where}] : 'server {px.name}/{srv.name}' : "
                        "agent-check enabled but no agent-port configured."
                    ) from None
                raise StartError(
                    f"config : config: {px.kind} '{px.name}': server '{srv.name}' has "
                    "neither service port nor check port."
                ) from None
            for check in checks:
                sched.add(check)
    pairs: list[tuple[Any, Any]] = []  # (tracker, tracked)
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
            pairs.append((srv, target))
    track.inherit_maint(pairs)
    sched.start()
    return sched


class NoPort(Exception):
    """A check with no port to connect to: ``agent`` says which check."""

    def __init__(self, agent: bool) -> None:
        super().__init__()
        self.agent = agent


def _checked(opts: dict[str, Any], srv: Any) -> bool:
    return bool(opts.get("check")) and not opts.get("no-check") and srv.family != "unix"


def server_checks(
    sched: Scheduler,
    px: Any,
    srv: Any,
    opts: dict[str, Any],
    ruleset: Any,
    check_tls: Any = None,
) -> list[Check]:
    """The health check (first) and agent check a server line asks for,
    with ``observe`` attached to the health check; not yet scheduled.
    Raises ``NoPort`` when one has no port.  The one builder of checks,
    for configured servers (``start``) and ``add server``."""
    timeouts = px.settings.timeouts
    common = {
        "timeout_connect": timeouts.get("connect"),
        "timeout_check": timeouts.get("check"),
        "log_checks": bool(px.settings.options.get("log-health-checks")),
    }
    out: list[Check] = []
    main = None
    if _checked(opts, srv):
        host = opts.get("addr") or srv.host
        port = opts.get("port") or (0 if srv.port_map else srv.port)
        if not port:
            raise NoPort(agent=False)
        main = Check(
            sched,
            srv,
            tls.bind_ruleset(ruleset, opts),
            host=host,
            port=port,
            family=_family(host),
            rise=opts.get("rise", 2),
            fall=opts.get("fall", 3),
            inter=opts.get("inter", 2000),
            fastinter=opts.get("fastinter", 0),
            downinter=opts.get("downinter", 0),
            tls=check_tls,
            **common,
        )
        observe.attach(main, opts)  # observe layer4|layer7
        out.append(main)
    if opts.get("agent-check") and not opts.get("no-agent-check"):
        if not opts.get("agent-port"):
            raise NoPort(agent=True)
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
            # HAProxy's agent counts to one either way (stats
            # agent_rise/agent_fall 1): a reply decides at once
            rise=1,
            fall=1,
            **common,
        )
        ach.main = main
        if main is not None:
            main.agent_check = ach
        ach.on_agent_reply = agent.apply
        out.append(ach)
    return out
