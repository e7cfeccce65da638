"""The stats sockets: listeners of HAProxy's internal ``GLOBAL`` frontend.

``stats socket <path>|ipv4@<addr:port>|fd@<n> [param*]`` (configuration.txt
§3.1 "stats socket"): bind options acted on are ``level``, ``mode``,
``user``/``uid``, ``group``/``gid`` (unix sockets), ``maxconn``, ``backlog``
and ``name``; ``stats maxconn`` (default 10) limits the connections of all
stats sockets together, ``stats timeout`` (default 10s) closes idle ones.

Whoever binds a unix stats socket applies its ownership and mode: this
process when it opens the socket itself, the master in master-worker mode
(``pyhaproxy/master/sockets.py``), whose workers inherit the socket and
serve it like a traffic listener.

In master-worker mode each worker also serves a private channel to its
master (``serve_channel``): the master CLI's ``@<n> <command>`` arrives on
it as a connected socket passed with its access level (management.txt
§9.4, HAProxy's "sockpair@" CLI of each worker).

With several workers (``nbthread`` > 1), a stats socket connection is
answered by the worker that accepted it; the counters it reports are summed
over the workers of its generation, and a state-changing command
(``disable server``, ``set weight``, ``set maxconn server``...) runs in
every one of them before it is answered (``pyhaproxy/master/share.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import resource
import socket
import time
from typing import TYPE_CHECKING, Any

from pyhaproxy.config.model import FRONTEND, Bind
from pyhaproxy.dataplane.listeners import BindError, Limit, Listener, open_bind
from pyhaproxy.runtime.cli import CliSession
from pyhaproxy.runtime.commands import ADMIN, LEVELS, OPERATOR, USER
from pyhaproxy.runtime.health import Book
from pyhaproxy.runtime.ids import proxy_ids, server_ids
from pyhaproxy.runtime.model import CliSettings, cli_settings
from pyhaproxy.runtime.page import attach_pages
from pyhaproxy.runtime.prometheus import EXPORTER

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config


# the byte sent with a socket on a worker's channel: the session's level
CHANNEL_LEVELS = {b"u": USER, b"o": OPERATOR, b"a": ADMIN}


class CliError(Exception):
    """A stats socket that could not be opened; HAProxy-shaped alert text.
    ``bind_failure``: HAProxy then also says that some protocols failed."""

    def __init__(self, text: str, bind_failure: bool = False) -> None:
        super().__init__(text)
        self.bind_failure = bind_failure


class CliServer:
    """Every stats socket of the process and the sessions they carry."""

    def __init__(self, rt: Any, timeout_ms: int, config: Config) -> None:
        self.rt = rt
        self.config = config
        self.timeout = timeout_ms / 1000.0
        self.started = time.time()
        self.proxy_ids, self.forced_ids = proxy_ids(config, cli_settings(config) is not None)
        self._server_ids: dict[Any, int] = {}
        for px in config.proxies:
            be = rt.backends.get(px.name)
            if be is not None:
                sids = server_ids(px)
                for srv in be.servers:
                    self._server_ids[srv] = sids.get(srv.name, 0)
        self.pages: list[Any] = []  # the stats pages (page.py)
        self.accepted = 0  # CLI connections (counted in show info CumConns)
        self.lbtot_base: dict[Any, int] = {}  # srv.total at "clear counters all"
        # servers' health: their checks, state changes, downtime (health.py)
        self.book = Book.build(config, rt, self.started)
        if getattr(rt, "checks", None) is not None:
            rt.checks.book = self.book  # agents' maint/drain/ready (checks/agent.py)
        for be in rt.backends.values():
            for srv in be.servers:
                srv.watchers.append(self._changed)
        # run-time settings of the commands in frontends.py and sessions.py
        self.maxconn_set = 0  # "set maxconn global" (0: not set)
        self.fe_maxconn_set: dict[str, int] = {}  # "set maxconn frontend"
        self.paused: set[str] = set()  # frontends disabled by "disable frontend"
        self.stopped: set[str] = set()  # frontends stopped by "shutdown frontend"
        self.reporter: Any = None  # where commands warn (set by attach_cli)
        self.fronts: Any = None  # frontends.Fronts, built on first use
        self.epochs: Any = None  # sessions.Epochs, built on first use
        self.acl_refs: Any = None  # acls.references(), built on first use
        self.listeners: list[Listener] = []
        self.sessions: set[CliSession] = set()
        self._by_session: dict[CliSession, Listener] = {}
        self._loop = asyncio.get_running_loop()
        self._clock = self._loop.call_later(1.0, self._tick)
        self._channel: socket.socket | None = None

    def _tick(self) -> None:
        """The stats clock: session rates and last-session times, computed
        once a second from the counters instead of on every session."""
        now = time.time()
        for fe in self.rt.frontends:
            fe.c.tick(now)
        for be in self.rt.backends.values():
            be.c.tick(now)
            for srv in be.servers:
                srv.c.tick(now)
        self._clock = self._loop.call_later(1.0, self._tick)

    def maxconn(self) -> int:
        """The process maxconn: as ``set maxconn global`` set it, else the
        hard limit."""
        return self.maxconn_set or self.hard_maxconn()

    def hard_maxconn(self) -> int:
        """The process maxconn at start: ``global maxconn``, else derived
        from the file descriptor limit as HAProxy does when it is not set."""
        if self.config.global_.maxconn:
            return self.config.global_.maxconn
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft == resource.RLIM_INFINITY:
            soft = 1 << 20
        return max((soft - 32) // 2, 1)

    def fe_maxconn(self, px: Any) -> int:
        """A frontend's maxconn: as ``set maxconn frontend`` set it, else
        its own, else the global one at start (HAProxy copies it then)."""
        value = self.fe_maxconn_set.get(px.name)
        return value if value is not None else self._fe_maxconn_conf(px)

    def _fe_maxconn_conf(self, px: Any) -> int:
        return px.settings.maxconn or self.hard_maxconn()

    def fullconn(self, px: Any) -> int:
        """A backend's ``fullconn``: set, or a tenth of the maxconn of the
        frontends that can reach it, rounded up (configuration.txt "fullconn")."""
        set_ = px.settings.extra.get("fullconn")
        if isinstance(set_, int) and set_:
            return set_
        be = self.rt.backends.get(px.name)
        total = 0
        for fe in self.rt.frontends:
            if fe.backend is be or any(target is be for _t, target in fe.switch):
                fpx = self.config.proxy(fe.name, FRONTEND)
                total += self._fe_maxconn_conf(fpx) if fpx is not None else 0
        return (total + 9) // 10 if total else 1

    def algo(self, px: Any) -> str:
        balance = px.settings.balance
        if not balance:
            return "roundrobin"
        return balance[0].split("(", 1)[0]

    def proxy_id(self, name: str) -> int:
        return self.proxy_ids.get(name, 0)

    def server_id(self, srv: Any) -> int:
        return self._server_ids.get(srv, 0)

    def _changed(self, srv: Any) -> None:
        self.book.changed(srv)

    def released(self, sess: CliSession) -> None:
        lst = self._by_session.pop(sess, None)
        if lst is not None:
            lst.released()

    def _factory(self, lst: Listener, level: int) -> Any:
        def make() -> CliSession:
            lst.accepted()
            self.accepted += 1
            sess = CliSession(self, level)
            sess.born = self._loop.time()  # "show sess" (sessions.py)
            self._by_session[sess] = lst
            return sess

        return make

    # ---- a worker's channel to its master (master CLI "@<n> <command>") ----

    def serve_channel(self, fd: int) -> None:
        """Serve the runtime API on the sockets the master passes on ``fd``
        (a SOCK_SEQPACKET socketpair end): each message is one level byte
        (``CHANNEL_LEVELS``) carrying one connected socket, served by a
        ``CliSession`` at that level, as a stats socket connection."""
        self._channel = socket.socket(fileno=fd)
        self._channel.setblocking(False)
        self._loop.add_reader(fd, self._on_channel)

    def _on_channel(self) -> None:
        chan = self._channel
        if chan is None:
            return
        try:
            msg, fds, _flags, _addr = socket.recv_fds(chan, 16, 8)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            msg, fds = b"", []
        if not msg and not fds:  # the master is gone: process.serve stops us
            self._close_channel()
            return
        level = CHANNEL_LEVELS.get(msg[:1], USER)
        for fd in fds:
            sock = socket.socket(fileno=fd)
            sock.setblocking(False)
            self._loop.create_task(self._serve_one(sock, level))

    async def _serve_one(self, sock: socket.socket, level: int) -> None:
        def make() -> CliSession:
            self.accepted += 1
            sess = CliSession(self, level)
            sess.born = self._loop.time()  # "show sess" (sessions.py)
            return sess

        try:
            await self._loop.connect_accepted_socket(make, sock)
        except OSError:
            sock.close()

    def _close_channel(self) -> None:
        if self._channel is not None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self._channel.fileno())
            self._channel.close()
            self._channel = None

    def stop_listening(self) -> None:
        """A soft stop: the stats sockets stop accepting (the next worker
        generation serves them); sessions and the master channel go on."""
        for lst in self.listeners:
            lst.close()
        self.listeners = []

    def close(self) -> None:
        self._clock.cancel()
        self._close_channel()
        for lst in self.listeners:
            lst.close()
        self.listeners = []
        for sess in list(self.sessions):
            sess._close()
        for be in self.rt.backends.values():
            for srv in be.servers:
                if self._changed in srv.watchers:
                    srv.watchers.remove(self._changed)


def unix_owner(path: str, opts: dict[str, Any]) -> None:
    """Apply a unix socket's ``uid``/``user``, ``gid``/``group`` and ``mode``
    bind options to ``path``; KeyError (unknown name) or OSError."""
    uid = opts.get("uid", -1)
    gid = opts.get("gid", -1)
    if "user" in opts:
        uid = pwd.getpwnam(opts["user"]).pw_uid
    if "group" in opts:
        gid = grp.getgrnam(opts["group"]).gr_gid
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)
    if "mode" in opts:
        os.chmod(path, int(opts["mode"], 8))


async def start_cli(config: Config, rt: Any, opener: Any = None) -> CliServer:
    """Open every ``stats socket``, hook the stats pages, bind the
    Prometheus exporter: everything that reports on ``rt``."""
    settings = cli_settings(config) or CliSettings()
    server = CliServer(rt, settings.timeout, config)
    server.pages = attach_pages(server)
    EXPORTER.cli = server
    shared = Limit(settings.maxconn)
    try:
        for sock in settings.sockets:
            opts = sock.options
            bind = Bind(sock.where, [sock.address], dict(opts))
            try:
                listeners = (opener or open_bind)(bind, 0)
            except KeyError:
                # a worker's opener has the sockets its master bound, which
                # binds every stats socket (master/sockets.py): a bug
                raise CliError(
                    f"Starting frontend GLOBAL: the master did not bind the stats socket "
                    f"[{sock.where}] (pyhaproxy bug)"
                ) from None
            except BindError as exc:
                raise CliError(bind_error(sock.where, sock.address.family, exc), True) from None
            level = LEVELS.get(opts.get("level", ""), OPERATOR)
            for lst in listeners:
                lst.add_limit(shared)
                server.listeners.append(lst)
                # a worker's inherited socket (not owned): the master set it
                if sock.address.family == "unix" and lst.owned:
                    try:
                        unix_owner(sock.address.host, opts)
                    except (KeyError, OSError) as exc:
                        raise CliError(owner_error(sock.address.host, exc)) from None
                await lst.start(server._factory(lst, level))
    except BaseException:
        server.close()
        raise
    return server


def bind_error(where: Any, family: str, exc: BindError) -> str:
    """HAProxy's alert for a stats socket that cannot be bound."""
    strerror, text = exc.args
    if family == "unix":
        return f"Binding [{where}] for frontend GLOBAL: cannot bind UNIX socket ({strerror}) {text}"
    return f"Binding [{where}] for frontend GLOBAL: cannot bind socket ({strerror}) for {text}"


def owner_error(path: str, exc: BaseException) -> str:
    return f"Starting frontend GLOBAL: cannot change UNIX socket ownership ({exc}) [{path}]"


def close_quietly(server: CliServer | None) -> None:
    if server is not None:
        with contextlib.suppress(Exception):
            server.close()
