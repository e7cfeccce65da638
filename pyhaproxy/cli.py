"""The `pyhaproxy` command line, as haproxy's (doc/management.txt §3)."""

from __future__ import annotations

import os
import platform
import ssl
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyhaproxy import __version__
from pyhaproxy.config import conditions
from pyhaproxy.messages import Reporter, version_string

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config

USAGE = """Usage : pyhaproxy [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -n <maxconn> ] [ -N <maxpconn> ]
        [ -p <pidfile> ] [ -m <max megs> ] [ -C <dir> ] [-- <cfgfile>*]
        -v displays version ; -vv shows known build options.
        -d enters debug mode ; -db only disables background mode.
        -dM[<byte>,help,...] debug memory (default: poison with <byte>/0x50)
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -C changes to <dir> before loading files.
        -W master-worker mode.
        -Ws master-worker mode with systemd notify support.
        -q quiet mode : don't display messages
        -c check mode : only check config files and exit
        -cc check condition : evaluate a condition and exit
        -n sets the maximum total # of connections (uses ulimit -n)
        -m limits the usable amount of memory (in MB)
        -N sets the default, per-proxy maximum # of connections (0)
        -L set local peer name (default to hostname)
        -p writes pids of all children to this file
        -dr ignores server address resolution failures
        -dV disables SSL verify on servers side
        -dW fails if any warning is emitted
        -dD diagnostic mode : warn about suspicious configuration statements
        -sf/-st [pid ]* finishes/terminates old pids.
        -x <unix_socket> get listening sockets from a unix socket
        -S <bind>[,<bind options>...] new master CLI
"""


@dataclass(slots=True)
class Options:
    files: list[str] = field(default_factory=list)
    check: bool = False
    check_cond: str | None = None
    debug: bool = False
    foreground: bool = False
    daemon: bool = False
    pidfile: str | None = None
    master_worker: bool = False
    systemd: bool = False
    master_cli: list[str] = field(default_factory=list)
    old_pids: list[int] = field(default_factory=list)
    terminate_old: bool = False
    quiet: bool = False
    verbose: bool = False
    version: int = 0
    local_peer: str | None = None
    maxconn: int | None = None
    maxpconn: int | None = None
    chdir: str | None = None
    diag: bool = False
    zero_warning: bool = False
    debug_flags: list[str] = field(default_factory=list)
    memory_mb: int | None = None
    socket_transfer: str | None = None


class UsageError(Exception):
    pass


def _take(argv: list[str], i: int, flag: str) -> str:
    if i + 1 >= len(argv):
        raise UsageError(f"option '{flag}' requires an argument")
    return argv[i + 1]


def parse_args(argv: list[str]) -> Options:
    """Parse haproxy's flags; raises UsageError for anything unknown."""
    o = Options()
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            o.files.extend(argv[i + 1 :])
            break
        if not a.startswith("-") or a == "-":
            raise UsageError(f"unexpected argument '{a}'")
        if a == "-f":
            o.files.append(_take(argv, i, a))
            i += 2
            continue
        if a in ("-sf", "-st"):
            o.terminate_old = a == "-st"
            i += 1
            while i < len(argv) and argv[i].isdigit():
                o.old_pids.append(int(argv[i]))
                i += 1
            continue
        if a == "-cc":
            o.check_cond = " ".join(argv[i + 1 :]) if i + 1 < len(argv) else ""
            break
        simple = {
            "-c": "check",
            "-d": "debug",
            "-db": "foreground",
            "-D": "daemon",
            "-W": "master_worker",
            "-q": "quiet",
            "-V": "verbose",
            "-dD": "diag",
            "-dW": "zero_warning",
        }
        if a in simple:
            setattr(o, simple[a], True)
        elif a == "-Ws":
            o.master_worker = o.systemd = True
        elif a in ("-v", "-vv"):
            o.version = max(o.version, len(a) - 1)
        elif a in ("-p", "-L", "-C", "-S", "-N", "-n", "-m", "-x"):
            value = _take(argv, i, a)
            if a == "-p":
                o.pidfile = value
            elif a == "-L":
                o.local_peer = value
            elif a == "-C":
                o.chdir = value
            elif a == "-S":
                o.master_cli.append(value)
            elif a == "-x":
                o.socket_transfer = value
            else:
                if not value.isdigit():
                    raise UsageError(f"option '{a}' expects a number")
                setattr(o, {"-N": "maxpconn", "-n": "maxconn", "-m": "memory_mb"}[a], int(value))
            i += 2
            continue
        elif a.startswith("-d") and len(a) > 2 and a[2] in "MrVSGepkKnfVtc":
            o.debug_flags.append(a)  # accepted debug switches (management.txt §3)
        else:
            raise UsageError(f"unknown option '{a}'")
        i += 1
    return o


def print_version(verbose: bool) -> None:
    print(f"HAProxy version {version_string()} 2026/11/25 - pyhaproxy {__version__}")
    print("Status: pyhaproxy, a Python implementation following HAProxy 2.6 behaviour.")
    print(
        f"Running on: {platform.system()} {platform.release()} {platform.version()} {platform.machine()}"
    )
    if not verbose:
        return
    feats = " ".join(
        ("+" if on else "-") + name for name, on in sorted(conditions.FEATURES.items())
    )
    print("Build options :")
    print(f"  TARGET  = python{platform.python_version()}")
    print("  OPTIONS = USE_UVLOOP=1 USE_HTTPTOOLS=1")
    print()
    print(f"Feature list : {feats}")
    print()
    print("Default settings :")
    print("  bufsize = 16384, maxrewrite = 1024, maxpollevents = 200")
    print()
    print(f"Built with OpenSSL version : {ssl.OPENSSL_VERSION}")
    print(f"Running on OpenSSL version : {ssl.OPENSSL_VERSION}")
    print("OpenSSL library supports : TLSv1.2 TLSv1.3")
    print()
    print("Available polling systems :")
    print("      epoll : pref=300,  test result OK")
    print("Total: 1 (1 usable), will use epoll.")
    print()
    print("Available multiplexer protocols :")
    print("(protocols marked as <default> cannot be specified using 'proto' keyword)")
    print("         h1 : mode=HTTP  side=FE|BE  mux=H1  flags=HTX|NO_UPG")
    print("  <default> : mode=TCP   side=FE|BE  mux=PASS  flags=")
    print()
    print("Available services : prometheus-exporter")  # pyhaproxy/runtime/prometheus.py
    print()
    print("Available filters : none")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"[ALERT]    ({os.getpid()}) : {exc}\n{USAGE}")
        return 1
    if opts.version:
        print_version(opts.version > 1)
        return 0
    reporter = Reporter(quiet=opts.quiet and not opts.verbose)
    if opts.check_cond is not None:
        try:
            return 0 if conditions.evaluate(opts.check_cond, os.environ) else 1
        except conditions.ConditionError as exc:
            reporter.alert(f"Failed to evaluate condition: {exc.message}")
            return 2
    if opts.chdir:
        try:
            os.chdir(opts.chdir)
        except OSError as exc:
            reporter.alert(f"Cannot chdir to {opts.chdir} : {exc.strerror}")
            return 1
    if not opts.files:
        sys.stderr.write(USAGE)
        return 1
    from pyhaproxy.config.checks import has_listener
    from pyhaproxy.config.loader import load

    result = load(opts.files, reporter)
    if result.status or result.config is None:
        return 1
    config = result.config
    if opts.zero_warning and reporter.warnings:
        reporter.alert("Some warnings were found and 'zero-warning' is set. Aborting.")
        return 1
    if not _master_cli_usable(opts, config, reporter):
        return 1
    if opts.check:
        pending = config.unimplemented()
        for used in _unique(pending):
            reporter.warning(
                f"parsing [{used.where}] : '{used.keyword}' is accepted but not implemented "
                "yet; pyhaproxy will refuse to start with it."
            )
        if not has_listener(config):
            print("Configuration file has no error but will not start (no listener) => exit(2).")
            return 2
        if reporter.warnings and not opts.quiet:
            print("Warnings were found.")
        if not opts.quiet:
            print("Configuration file is valid")
        return 0
    missing = _unimplemented_flags(opts)
    if missing:
        for flag, what in missing:
            reporter.alert(f"{flag} ({what}) is not implemented yet by pyhaproxy.", context=None)
        return 1
    if not runnable(config, reporter):
        return 1
    if opts.master_worker or config.global_.master_worker:
        from pyhaproxy import master

        return master.run(config, opts, reporter)
    from pyhaproxy import process

    return process.run(config, opts, reporter)


def _master_cli_usable(opts: Options, config: Config, reporter: Reporter) -> bool:
    """``-S`` specs: checked under master-worker mode (alerts, False when one
    is bad), a warning without it, as haproxy (also with ``-c``)."""
    if not opts.master_cli:
        return True
    if not (opts.master_worker or config.global_.master_worker):
        reporter.warning(
            "a master CLI socket was defined, but master-worker mode (-W) is not enabled."
        )
        return True
    from pyhaproxy.master import mcli

    try:
        for spec in opts.master_cli:
            mcli.parse_spec(spec)
    except mcli.SpecError as exc:
        reporter.alert(str(exc))
        reporter.alert("Can't create the master's CLI.")
        return False
    return True


def load_runnable(opts: Options, reporter: Reporter) -> Config | None:
    """Load ``opts.files`` for a (re)start: the configuration, or None after
    the alerts saying why it cannot run (the master's reload uses it too)."""
    from pyhaproxy.config.loader import load

    result = load(opts.files, reporter)
    if result.status or result.config is None:
        return None
    if opts.zero_warning and reporter.warnings:
        reporter.alert("Some warnings were found and 'zero-warning' is set. Aborting.")
        return None
    return result.config if runnable(result.config, reporter) else None


def runnable(config: Config, reporter: Reporter) -> bool:
    """False, after alerts, for keywords whose behaviour is missing or a
    configuration without a listener."""
    from pyhaproxy.config.checks import has_listener

    pending = config.unimplemented()
    if pending:
        for used in _unique(pending):
            reporter.alert(
                f"parsing [{used.where}] : '{used.keyword}' is not implemented yet by pyhaproxy."
            )
        reporter.alert("Fatal errors found in configuration.")
        return False
    if not has_listener(config):
        reporter.alert(
            "[pyhaproxy.main()] No enabled listener found (check for 'bind' directives) ! Exiting.",
            context=None,
        )
        return False
    return True


def _unimplemented_flags(opts: Options) -> list[tuple[str, str]]:
    """Run-time flags whose behaviour has not landed (accepted with -c)."""
    found = []
    checks = [
        (opts.maxconn is not None, "-n", "global maxconn"),
        (opts.maxpconn is not None, "-N", "default proxy maxconn"),
        (opts.socket_transfer, "-x", "listening sockets transfer"),
        (opts.memory_mb is not None, "-m", "memory limit"),
    ]
    for active, flag, what in checks:
        if active:
            found.append((flag, what))
    return found


def _unique(items):
    seen = set()
    for u in items:
        key = (u.where, u.keyword)
        if key not in seen:
            seen.add(key)
            yield u


if __name__ == "__main__":
    sys.exit(main())
