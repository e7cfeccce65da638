"""Runtime backends and servers: usable state, connection slots, the queue.

A server "slot" is taken by a stream from the moment a server is chosen until
its exchange ends (TCP: the connection; HTTP: one request/response), which is
what ``maxconn`` limits (configuration.txt §5.2 "maxconn").  When every usable
server is full, the stream waits in the backend queue until a slot frees or
``timeout queue`` (default: ``timeout connect``) expires.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections import deque
from typing import TYPE_CHECKING, Any

from pyhaproxy.dataplane.counters import Counters
from pyhaproxy.dataplane.errors import build_pages
from pyhaproxy.dataplane.pool import Pool
from pyhaproxy.lb import build as build_lb

if TYPE_CHECKING:
    from pyhaproxy.config.model import Proxy, Server


# operational states (HAProxy's SRV_ST_*): set by health checks, tracking
# and the runtime API's "set server health"; admin flags (SRV_ADMF_*) by
# "disabled", "disable server", "set server state"
UP, STOPPING, DOWN = "UP", "NOLB", "DOWN"
# HAProxy's SRV_ADMF_* (show servers state's srv_admin_state): forced or
# inherited maintenance (CMAINT, 0x4, is "disabled" in the configuration)
FMAINT, IMAINT, FDRAIN, IDRAIN = 0x01, 0x02, 0x08, 0x10
MAINT_BITS, DRAIN_BITS = FMAINT | IMAINT, FDRAIN | IDRAIN
# what the data plane tells ``ServerRT.observe`` (HAProxy's HANA_STATUS_*,
# checks/observe.py): a connection made or failed, an HTTP answer
OBS_L4_OK, OBS_L4_ERR, OBS_HTTP_OK, OBS_HTTP_STS, OBS_HTTP_HDRRSP = 1, 2, 3, 4, 5
OBS_HTTP_RSP, OBS_READ_ERROR, OBS_READ_TIMEOUT, OBS_BROKEN_PIPE = 6, 7, 8, 9


def observed_status(code: int) -> int:
    """A final HTTP status as ``observe`` counts it: "Valid status codes
    include 100 to 499, 501 and 505" (configuration.txt "observe")."""
    return OBS_HTTP_OK if code >= 100 and (code < 500 or code in (501, 505)) else OBS_HTTP_STS


class ServerRT:
    """A server as the data plane sees it; counters are plain attributes.

    State changes go through ``set_maint``, ``set_drain``, ``set_state`` and
    ``set_weight`` only: they recompute ``eligible`` (may take new traffic)
    and tell the balancer (``lb.update(server)``) and the ``watchers``
    (callables ``(server)``, e.g. tracking servers, the stats) once.
    """

    __slots__ = (
        "name",
        "backend",
        "family",
        "host",
        "port",
        "port_map",
        "weight",
        "uweight",
        "iweight",
        "backup",
        "admin",
        "maint",
        "drain",
        "state",
        "eligible",
        "watchers",
        "maxconn",
        "maxqueue",
        "cur",
        "total",
        "pool",
        "loop",
        "c",
        "tls",
        "ssl",
        "observe",
        "ramp",
    )

    def __init__(self, srv: Server, backend: BackendRT) -> None:
        addr = srv.address
        assert addr is not None
        opts = srv.options
        self.name = srv.name
        self.backend = backend
        self.family = addr.family
        self.host = addr.host
        self.port = addr.port
        # no port, or "+N"/"-N": the port the client connected to, plus
        # ``port`` (configuration.txt §5.2 "server <address>[:[port]]")
        self.port_map = addr.family in ("ipv4", "ipv6") and (addr.port_offset or not addr.port)
        # iweight: the configured weight; uweight: the current user weight
        # ("set weight"); weight: the effective one the balancers read
        self.iweight = self.uweight = self.weight = opts.get("weight", 1)
        self.backup = bool(opts.get("backup")) and not opts.get("no-backup")
        # HAProxy's SRV_ADMF_* bits: forced (CLI, page, agent, "disabled")
        # or inherited from the server tracked (runtime/adminstate.py);
        # maint and drain say whether any of their bits is set
        self.admin = FMAINT if opts.get("disabled") and not opts.get("enabled") else 0
        self.maint = bool(self.admin)
        self.drain = False
        self.state = UP
        self.eligible = False
        self.watchers: list[Any] = []
        self.maxconn = opts.get("maxconn") or 0
        # a server's own queue only holds streams assigned to it by persistence
        # (cookie, stick tables: not implemented), so with the round robin
        # every queued stream waits in the backend queue, which maxqueue does
        # not limit (HAProxy 2.6 queue.c pendconn_add) -- kept for leastconn
        self.maxqueue = opts.get("maxqueue") or 0
        self.cur = 0
        self.total = 0
        self.pool = Pool()
        # kept: each asyncio.get_running_loop() costs a getpid() system call
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None
        self.c = Counters()  # traffic counters (counters.py)
        # "ssl": the ServerTLS of the line and its SSLContext, built once
        self.tls = srv.tls
        self.ssl = srv.tls.built() if srv.tls is not None else None
        # ``observe layer4|layer7``: None, or the health analysis of the
        # checks (checks/observe.py), called with one of the OBS_* codes
        # where connections fail or succeed and responses come
        self.observe: Any = None
        # ``slowstart``: 0 at full weight, else HAProxy's weight factor out
        # of lb.base.BE_WEIGHT_SCALE while the server warms up (checks/slowstart.py)
        self.ramp = 0
        self._recompute()

    def _recompute(self) -> None:
        weight = 0 if self.drain else self.uweight
        if self.ramp and weight:
            # HAProxy's stats show (eweight * wmult + wdiv - 1) / wdiv
            lb = getattr(self.backend, "lb", None)
            if lb is not None and lb.dynamic:
                weight = -(-weight * self.ramp // 16)
        self.weight = weight
        self.eligible = not self.maint and self.state == UP and self.weight > 0

    def _changed(self) -> None:
        self._recompute()
        lb = getattr(self.backend, "lb", None)
        if lb is not None:
            lb.update(self)
        for watch in self.watchers:
            watch(self)

    def set_admin(self, admin: int) -> None:
        """The admin bits (FMAINT IMAINT FDRAIN IDRAIN) at once."""
        if self.admin != admin:
            self.admin = admin
            self.maint = bool(admin & MAINT_BITS)
            self.drain = bool(admin & DRAIN_BITS)
            self._changed()

    def set_maint(self, on: bool) -> None:
        """Forced maintenance on or off (an inherited one stays)."""
        self.set_admin(self.admin | FMAINT if on else self.admin & ~FMAINT)

    def set_drain(self, on: bool) -> None:
        """Forced drain on or off (an inherited one stays)."""
        self.set_admin(self.admin | FDRAIN if on else self.admin & ~FDRAIN)

    def set_state(self, state: str) -> None:
        """``UP``, ``STOPPING`` (no new traffic) or ``DOWN``."""
        if self.state != state:
            self.state = state
            self._changed()

    def set_weight(self, weight: int) -> None:
        if self.uweight != weight:
            self.uweight = weight
            self._changed()

    def set_ramp(self, ramp: int) -> None:
        """The slow-start factor (0: none, full weight)."""
        if self.ramp != ramp:
            self.ramp = ramp
            self._changed()

    @property
    def enabled(self) -> bool:
        """Could serve once a slot frees (not in maintenance, running)."""
        return self.eligible

    def usable(self) -> bool:
        return self.eligible and (not self.maxconn or self.cur < self.maxconn)

    async def connect(self, factory: Any, delay: float = 0.0, client: Any = None) -> Any:
        """One connection attempt, after ``delay`` seconds (the turn-around
        before a retry on the same server); retries are the stream's
        (``BackendRT.retry``), as a connect timeout counts as a failure.
        ``client``: the client transport, whose local port a server without
        a fixed port connects to."""
        loop = self.loop or asyncio.get_running_loop()
        if delay:
            await asyncio.sleep(delay)
        if self.family == "unix":
            _, proto = await loop.create_unix_connection(factory, self.host)
            return proto
        port = self.port
        if self.port_map:
            port += client.get_extra_info("sockname")[1]
        if self.ssl is not None:
            transport, proto = await loop.create_connection(
                factory,
                self.host,
                port,
                ssl=self.ssl,
                server_hostname=self.tls.server_hostname(client, self.host),
            )
            self.tls.established(transport)  # its session is offered next time
            return proto
        _, proto = await loop.create_connection(factory, self.host, port)
        return proto


class BackendRT:
    __slots__ = (
        "name",
        "mode",
        "servers",
        "lb",
        "queue",
        "pinned",
        "timeout_server",
        "timeout_connect",
        "timeout_queue",
        "retries",
        "turnaround",
        "redispatch",
        "abortonclose",
        "timeout_tunnel",
        "timeout_server_fin",
        "reuse",
        "pages",
        "c",
    )

    def __init__(self, px: Proxy) -> None:
        t = px.settings.timeouts
        self.name = px.name
        self.mode = px.mode
        models = configured_servers(px)
        self.servers = [ServerRT(s, self) for s in models]
        self.lb = build_lb(px, models, self.servers)  # pyhaproxy/lb/
        self.queue: deque[Any] = deque()
        # queued waiters whose hashed server is full (HAProxy's server queues)
        self.pinned: dict[Any, ServerRT] = {}
        self.timeout_server = t.get("server")
        self.timeout_connect = t.get("connect")
        self.timeout_queue = t.get("queue") or self.timeout_connect
        self.retries = 3 if px.settings.retries is None else px.settings.retries
        # "a turn-around timer of min("timeout connect", one second) is applied
        # before a retry occurs" (configuration.txt §4.2 "retries")
        self.turnaround = min((self.timeout_connect or 1000) / 1000.0, 1.0)
        self.timeout_tunnel = t.get("tunnel")
        self.timeout_server_fin = t.get("server-fin")
        opts = px.settings.options
        self.abortonclose = bool(opts.get("abortonclose"))
        # option redispatch [<interval>]: None when off, else the interval
        # (HAProxy reads it with atol(); default -1: on the last retry)
        redisp = opts.get("redispatch")
        self.redispatch: int | None = None
        if redisp is not None and redisp is not False:  # "option redispatch": ()
            self.redispatch = -1
            if isinstance(redisp, tuple) and redisp:
                m = re.match(r"[ \t]*([+-]?\d*)", redisp[0])
                self.redispatch = int(m.group(1)) if m and m.group(1).strip("+-") else 0
        self.reuse = px.settings.extra.get("http-reuse", "safe")
        self.pages = build_pages(px.settings.errorfiles)  # errorfile, read once
        self.c = Counters()  # traffic counters (counters.py)

    def acquire(
        self, waiter: Any, avoid: ServerRT | None = None, head: bytes = b""
    ) -> ServerRT | None | bool:
        """A server with a slot taken; ``True`` if ``waiter`` was queued
        (its ``dequeued(server)`` is called later); ``None``: no server.
        ``avoid``: the server that just failed, chosen only if alone;
        ``head``: the HTTP request head, read by hash algorithms only."""
        lb = self.lb
        srv = lb.pick(waiter, head, avoid)
        if srv is not None and (not srv.maxconn or srv.cur < srv.maxconn):
            self._take(srv)
            return srv
        if srv is not None or lb.has_candidates():
            # a hashed server may be full: wait for a slot of that server
            self.queue.append(waiter)
            self.c.qmax = max(self.c.qmax, len(self.queue))
            if srv is not None:
                self.pinned[waiter] = srv
            return True
        return None

    def _take(self, srv: ServerRT) -> None:
        srv.cur += 1
        srv.total += 1
        srv.c.open()
        self.c.open()
        if self.lb.take is not None:
            self.lb.take(srv)

    def assign(self, sess: Any, avoid: ServerRT | None = None, head: bytes = b"") -> bool:
        """Give ``sess`` a server now (its ``dequeued(server)``) or a place
        in the queue (``timeout queue`` armed); False when neither is
        possible.  ``head``: the HTTP request head (hash algorithms)."""
        got = self.acquire(sess, avoid, head)
        if got is None:
            return False
        if got is True:
            sess.wheel.arm(sess, self.timeout_queue)
        else:
            sess.dequeued(got)
        return True

    def retry(
        self, srv: ServerRT, tries: int, timed_out: bool = False
    ) -> tuple[bool, float] | None:
        """After the ``tries``-th failed connect attempt (refused or timed
        out) to ``srv``: ``None`` to give up (503), else (redispatch to
        another server?, turn-around delay) -- HAProxy 2.6 stream.c
        back_handle_st_cer: with ``option redispatch`` the retry goes to
        another server on every <interval>-th retry (negative: counted back
        from the last one), and on every retry when a round robin has more
        than one active server; a retry on the same server waits
        ``turnaround`` first, unless the attempt timed out."""
        if tries > self.retries:
            return None
        interval = self.redispatch
        if interval is not None:
            period = interval if interval > 0 else self.retries + 1 + interval
            if (interval and period > 0 and tries % period == 0) or self.round_robin_many():
                return True, 0.0
        # after a connect timeout the retry is immediate (checked against
        # Debian's haproxy 2.6: three 300ms attempts take 0.9s)
        return False, 0.0 if timed_out else self.turnaround

    def round_robin_many(self) -> bool:
        """More than one active server enabled (HAProxy's ``srv_act > 1``)."""
        return sum(1 for s in self.lb.active if s.enabled) > 1

    def release(self, srv: ServerRT) -> None:
        srv.cur -= 1
        srv.c.scur -= 1
        self.c.scur -= 1
        lb = self.lb
        if lb.drop is not None:
            lb.drop(srv)
        queue = self.queue
        if not queue:
            return
        # HAProxy's process_srv_queue: the freed slot goes to the oldest
        # stream waiting for this server or for any server
        pinned = self.pinned
        if srv.eligible:
            for i, waiter in enumerate(queue):
                pin = pinned.get(waiter)
                if pin is None or pin is srv:
                    del queue[i]
                    pinned.pop(waiter, None)
                    self._take(srv)
                    waiter.dequeued(srv)
                    return
            return
        # a server leaving: another one may take the oldest unpinned stream
        waiter = queue[0]
        if waiter not in pinned:
            nxt = lb.pick(waiter, b"", None)
            if nxt is not None and (not nxt.maxconn or nxt.cur < nxt.maxconn):
                queue.popleft()
                self._take(nxt)
                waiter.dequeued(nxt)

    def grab(self, srv: ServerRT) -> None:
        """``srv`` may take more streams (its slow start raised its weight
        or ``maxconn``): its free slots go to the oldest streams waiting
        for it or for any server (HAProxy's pendconn_grab_from_px)."""
        queue, pinned = self.queue, self.pinned
        while queue and srv.eligible and (not srv.maxconn or srv.cur < srv.maxconn):
            for i, waiter in enumerate(queue):
                pin = pinned.get(waiter)
                if pin is None or pin is srv:
                    del queue[i]
                    pinned.pop(waiter, None)
                    self._take(srv)
                    waiter.dequeued(srv)
                    break
            else:
                return

    def unqueue(self, waiter: Any) -> None:
        self.pinned.pop(waiter, None)
        try:
            self.queue.remove(waiter)
        except ValueError:
            pass

    def close_idle(self) -> None:
        for s in self.servers:
            s.pool.close_all()

    def purge_idle(self) -> None:
        for s in self.servers:
            s.pool.purge()


def configured_servers(px: Proxy) -> list[Server]:
    """The servers a backend balances over; a backend not in balance mode
    with ``dispatch ADDR:PORT`` sends everything there (HAProxy's
    ``PR_O_DISPATCH``: its ``server`` lines are then not used)."""
    dispatch = px.settings.extra.get("dispatch")
    if dispatch is not None and not px.settings.balance:
        return [dispatch]
    return px.servers


def resolve(px: Proxy) -> None:
    """Resolve server host names once, at start (as HAProxy's init-addr last,libc)."""
    for s in configured_servers(px):
        a = s.address
        if a is None or a.family not in ("ipv4", "ipv6") or not a.host:
            continue
        try:
            socket.inet_pton(socket.AF_INET6 if a.family == "ipv6" else socket.AF_INET, a.host)
        except OSError:
            info = socket.getaddrinfo(a.host, a.port or None, type=socket.SOCK_STREAM)
            a.host = info[0][4][0]
