"""Process set-up shared by the single process and the master-worker mode:
file-descriptor limit, daemon mode, dropping privileges.

configuration.txt §3.1: ``ulimit-n``, ``maxconn`` (the limit it implies),
``daemon``, ``user``/``group``/``uid``/``gid``, ``chroot``.  Messages are
HAProxy 2.6's, whose ``strict-limits`` is on by default: a limit that cannot
be set is fatal.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import TYPE_CHECKING

from pyhaproxy.config.model import FRONTEND

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config

# file descriptors HAProxy counts beside two per connection and one per
# listener: 10, and 3 per thread (HAProxy 2.6 on Linux: "maxsock" is
# maxconn * 2 + listeners + 10 + 3 * nbthread, nbthread defaulting to the
# number of CPUs); the same figure keeps the same verdicts and messages
RESERVED_FDS = 10
FDS_PER_THREAD = 3


class SetupError(Exception):
    """A fatal start-up problem; ``str()`` is HAProxy's alert text."""


def _main() -> str:
    return f"[{sys.argv[0]}.main()]"


def listener_count(config: Config) -> int:
    """Sockets the configuration's enabled frontends listen on."""
    n = 0
    for px in config.proxies:
        if px.disabled or not px.cap & FRONTEND:
            continue
        for bind in px.binds:
            for a in bind.addresses:
                if a.family in ("ipv4", "ipv6"):
                    n += max(a.port_high, a.port_low) - a.port_low + 1
                else:
                    n += 1
    return n


def apply_fd_limit(config: Config) -> None:
    """``ulimit-n`` / the limit global ``maxconn`` needs (configuration.txt
    §3.1 "ulimit-n": "automatically computed ... based on maxconn")."""
    g = config.global_
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    threads = g.nbthread or os.cpu_count() or 1
    maxsock = 0
    if g.maxconn:
        maxsock = g.maxconn * 2 + listener_count(config) + RESERVED_FDS + FDS_PER_THREAD * threads
    if g.ulimit_n:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (g.ulimit_n, max(hard, g.ulimit_n)))
        except (ValueError, OSError):
            raise SetupError(
                f"{_main()} Cannot raise FD limit to {g.ulimit_n}, limit is {hard}."
            ) from None
        if maxsock > g.ulimit_n:
            raise SetupError(
                f"{_main()} FD limit ({soft}) too low for maxconn={g.maxconn}/"
                f"maxsock={maxsock}. Please raise 'ulimit-n' to {maxsock} or more to "
                "avoid any trouble."
            )
    elif maxsock > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (maxsock, max(hard, maxsock)))
        except (ValueError, OSError):
            raise SetupError(
                f"{_main()} Cannot raise FD limit to {maxsock}, limit is {hard}."
            ) from None


def drop_privileges(config: Config) -> None:
    """``chroot``, then ``gid``/``group`` and ``uid``/``user``, after the
    listeners are bound (configuration.txt §3.1)."""
    g = config.global_
    if g.chroot:
        try:
            os.chroot(g.chroot)
            os.chdir("/")
        except OSError:
            raise SetupError(f"{_main()} Cannot chroot({g.chroot}).") from None
    if g.gid:
        try:
            os.setgroups([])
            os.setgid(g.gid)
        except OSError:
            raise SetupError(f"{_main()} Cannot set gid {g.gid}.") from None
    if g.uid:
        try:
            if g.user and os.getuid() == 0:
                os.initgroups(g.user, g.gid or os.getgid())
            os.setuid(g.uid)
        except OSError:
            raise SetupError(f"{_main()} Cannot set uid {g.uid}.") from None


def daemonize() -> int:
    """Fork into the background (``-D``, ``daemon``).  Returns, in the
    child, the write end of a pipe on which it reports ``b"ok"`` once it
    serves (the parent then exits 0) or closes without it (the parent exits
    1): like HAProxy, the command returns once the service is up."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        with os.fdopen(rfd, "rb") as fh:
            ok = fh.read() == b"ok"
        os._exit(0 if ok else 1)
    os.close(rfd)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    return wfd


def daemon_ready(fd: int | None) -> None:
    """Tell the ``daemonize`` parent that start-up succeeded; from then on
    stderr goes nowhere, as a daemon's."""
    if fd is None:
        return
    os.write(fd, b"ok")
    os.close(fd)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 2)
    os.close(null)


def write_pidfile(path: str | None, pid: int) -> None:
    if path:
        with open(path, "w") as fh:
            fh.write(f"{pid}\n")
