"""``pykeepalived`` command line, with keepalived's flags (keepalived(8)).

Exit status of ``-t/--config-test`` is keepalived 2.2.7's (what the Debian
binary returns; its man page numbers them one lower): 0 valid, 4 the
configuration cannot run, 5 errors but it can run, 6 scripts configured
without ``enable_script_security``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import socket
import sys
import time

from pyhaproxy.keepalived import VERSION
from pyhaproxy.keepalived.parser import load
from pyhaproxy.keepalived.reader import ERROR, FATAL, Diagnostics

EXIT_OK = 0
EXIT_PROGRAM_ERROR = 2
EXIT_CONFIG = 4  # configuration cannot run
EXIT_CONFIG_TEST = 5  # errors, but it would run
EXIT_CONFIG_TEST_SECURITY = 6  # scripts without enable_script_security

DEFAULT_CONF = "/etc/keepalived/keepalived.conf"
DEFAULT_PID = "/run/keepalived.pid"
DEFAULT_VRRP_PID = "/run/vrrp.pid"

log = logging.getLogger("pykeepalived")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pykeepalived", description="VRRP daemon compatible with keepalived", add_help=False
    )
    a = p.add_argument
    a(
        "-f",
        "--use-file",
        dest="conf",
        default=DEFAULT_CONF,
        help="use the specified configuration file",
    )
    a("-P", "--vrrp", action="store_true", help="only run with VRRP subsystem")
    a("-C", "--check", action="store_true", help="only run with Health-checker subsystem")
    a("-l", "--log-console", action="store_true", help="log messages to local console")
    a("-D", "--log-detail", action="store_true", help="detailed log messages")
    a(
        "-S",
        "--log-facility",
        type=int,
        choices=range(8),
        default=None,
        help="0-7 set syslog facility to LOG_LOCAL[0-7]",
    )
    a("-G", "--no-syslog", action="store_true", help="don't log via syslog")
    a("-n", "--dont-fork", action="store_true", help="don't fork the daemon process")
    a("-p", "--pid", default=None, help="use specified pidfile for parent process")
    a(
        "-r",
        "--vrrp_pid",
        dest="vrrp_pid",
        default=None,
        help="use specified pidfile for VRRP child process",
    )
    a(
        "-c",
        "--checkers_pid",
        dest="checkers_pid",
        default=None,
        help="use specified pidfile for checkers child process",
    )
    a(
        "-t",
        "--config-test",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="check the configuration for obvious errors",
    )
    a("-v", "--version", action="store_true", help="display the version and exit")
    a("-h", "--help", action="help", help="display this help message and exit")
    return p


class KeepalivedFormatter(logging.Formatter):
    """``Wed Nov 25 11:42:15 2026: text`` on the console, as ``keepalived -l``."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{time.ctime(record.created)}: {record.getMessage()}"


def setup_logging(args: argparse.Namespace) -> None:
    log.handlers.clear()
    log.setLevel(logging.DEBUG if args.log_detail else logging.INFO)
    log.propagate = False
    if args.log_console:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(KeepalivedFormatter())
        log.addHandler(h)
    if not args.no_syslog and os.path.exists("/dev/log"):
        facility = logging.handlers.SysLogHandler.LOG_DAEMON
        if args.log_facility is not None:
            facility = logging.handlers.SysLogHandler.LOG_LOCAL0 + int(args.log_facility)
        try:
            h = logging.handlers.SysLogHandler("/dev/log", facility)
            h.setFormatter(logging.Formatter("Keepalived_vrrp[%(process)d]: %(message)s"))
            log.addHandler(h)
        except OSError:
            pass
    if not log.handlers:
        log.addHandler(logging.NullHandler())


def config_test(path: str, out_file: str) -> int:
    """``-t``: report problems, exit with keepalived's status."""
    diags = Diagnostics()
    cfg = load(path, diags)
    for inst in cfg.instances.values():
        try:
            socket.if_nametoindex(inst.interface or "")
        except OSError:
            diags.error(
                inst.where,
                f"WARNING - interface {inst.interface} for vrrp_instance {inst.name} doesn't exist",
            )
    stream = open(out_file, "a") if out_file else sys.stderr  # noqa: SIM115
    try:
        for d in diags.items:
            stream.write(f"{d}\n")
    finally:
        if out_file:
            stream.close()
    if diags.count(FATAL):
        return EXIT_CONFIG
    if diags.security_violation:
        return EXIT_CONFIG_TEST_SECURITY
    if diags.count(ERROR):
        return EXIT_CONFIG_TEST
    return EXIT_OK


def _running(pidfile: str) -> bool:
    try:
        pid = int(open(pidfile).read().split()[0])  # noqa: SIM115
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return pid != os.getpid()


def _daemonize() -> None:
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    fd = os.open(os.devnull, os.O_RDWR)
    for n in (0, 1, 2):
        os.dup2(fd, n)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        print(f"Keepalived v{VERSION} (pykeepalived)", file=sys.stderr)
        return EXIT_OK
    if args.config_test is not None:
        return config_test(args.conf, args.config_test)
    if args.check:
        print(
            "pykeepalived: the health-checker subsystem (-C) is not supported yet", file=sys.stderr
        )
        return EXIT_PROGRAM_ERROR
    setup_logging(args)
    pidfiles = [args.pid or DEFAULT_PID, args.vrrp_pid or DEFAULT_VRRP_PID]
    for pf in pidfiles:
        if _running(pf):
            log.error("daemon is already running")
            print("pykeepalived: daemon is already running", file=sys.stderr)
            return EXIT_PROGRAM_ERROR
    if not args.dont_fork:
        _daemonize()
    # Single process: the parent and the VRRP "child" are the same pid.
    for pf in pidfiles:
        with open(pf, "w") as f:
            f.write(f"{os.getpid()}\n")
    log.info("Starting Keepalived v%s (pykeepalived)", VERSION)
    log.info("Configuration file %s", args.conf)
    from pyhaproxy.keepalived.daemon import Daemon

    async def run() -> int:
        return await Daemon(args.conf).run()

    try:
        return asyncio.run(run())
    finally:
        for pf in pidfiles:
            try:
                os.unlink(pf)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
