"""The master CLI (``-S <bind>[,<bind option>...]``, management.txt §9.4).

Addresses: a unix socket path (``/path``, ``unix@/path``), ``ipv4@host:port``,
``ipv6@host:port`` or ``host:port``, ``fd@N`` (an inherited listening
socket).  The bind options follow, separated by commas instead of spaces
(``-S /run/haproxy-master.sock,mode,600,level,operator``).  Acted on:
``mode``, ``user``/``uid``, ``group``/``gid`` (a unix socket's ownership,
applied before the socket is reachable at its path) and ``level`` (user,
operator, admin; default admin).  Any other bind option is refused at start
("not implemented yet by pyhaproxy"), never ignored; an unknown word is an
"unknown keyword", as HAProxy says.

A connection sends commands separated by LF or by ``;`` not escaped by a
backslash; a trailing CR is dropped.  As HAProxy's ``pcli_parse_request``:

- a first word ``@<n>`` (current worker number ``n``, 1..nbthread),
  ``@!<pid>`` (any worker, old ones too), ``@master``, ``@0`` or ``@`` (the
  master) sends the rest of the command to that process; alone, it makes
  that process the target of the next commands (the prompt then shows its
  pid); a prefix matching no process answers "Can't find the target PID
  matching the prefix" and closes the connection;
- ``prompt``, ``quit``, ``operator`` and ``user`` always act on the master
  CLI connection itself (``operator`` at level user: "Permission denied!",
  then the connection closes);
- a command for a worker goes to its runtime API through its private
  channel (``runtime/server.py`` ``CliServer.serve_channel``): a fresh
  socketpair per command, passed with the connection's level, the command
  (and its ``<<`` payload) written, then the answer relayed until the
  worker closes, exactly as the worker answers it on a stats socket;
- master commands: ``help``, ``show proc``, ``show cli level``,
  ``show version``, ``reload`` (operator or admin; answers ``Success=1`` or
  ``Success=0``, ``--`` and the start-up messages, once the new workers
  serve or failed);
- in interactive mode (``prompt``) each command's answer is followed by the
  prompt ``master> `` (``master[ReloadFailed]> `` after a failed reload) or
  ``<pid>> ``; without it the connection closes once the commands received
  are answered, or at the client's end of file.

A command sent to a worker is answered by that worker; a state change
(``@1 set weight be/s1 0``) also runs in the other workers of its
generation before the answer (``share.py``), and counters are summed over
them, as with a stats socket.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import selectors
import socket
import stat
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyhaproxy.config.keywords.bind import BIND_OPTIONS
from pyhaproxy.config.keywords.params import as_int
from pyhaproxy.config.registry import ConfigError
from pyhaproxy.config.suggest import best_match
from pyhaproxy.messages import version_string
from pyhaproxy.runtime.commands import ADMIN, LEVEL_NAMES, LEVELS, OPERATOR, USER

if TYPE_CHECKING:
    from pyhaproxy.master.master import Master

MAX_LINE = 16384
IMPLEMENTED = frozenset({"mode", "user", "group", "uid", "gid", "level"})
# the level byte passed with a socket on a worker's channel
CHANNEL_LEVEL = {USER: b"u", OPERATOR: b"o", ADMIN: b"a"}
_INT = re.compile(r"[+-]?\d+")

_COMMANDS = [
    ("@!<pid>", "send a command to the <pid> process"),
    ("@<relative pid>", "send a command to the <relative pid> process"),
    ("@master", "send a command to the master process"),
    ("operator", "lower the level of the current CLI session to operator"),
    ("reload", "reload haproxy"),
    ("show cli level", "display the level of the current CLI session"),
    ("show proc", "show processes status"),
    ("show version", "show version of the current process"),
    ("user", "lower the level of the current CLI session to user"),
    ("help [<command>]", "list matching or all commands"),
    ("prompt", "toggle interactive mode with prompt"),
    ("quit", "disconnect"),
]
_LIST = "".join(f"  {name:<40}: {text}\n" for name, text in _COMMANDS)
HELP = "The following commands are valid at this level:\n" + _LIST
UNKNOWN = "Unknown command. Please enter one of the following commands only:\n" + _LIST


class SpecError(Exception):
    """A ``-S`` argument that cannot be used; HAProxy-shaped alert text."""


@dataclass(slots=True)
class Spec:
    """One ``-S`` argument: ``kind`` is unix, ipv4, ipv6 or fd."""

    text: str
    kind: str
    address: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def level(self) -> int:
        return LEVELS.get(self.options.get("level", "admin"), ADMIN)


def parse_spec(spec: str) -> Spec:
    """``<bind>[,<option>[,<value>]]...``; SpecError with HAProxy's words."""
    addr, *words = spec.split(",")
    if addr.startswith("fd@"):
        kind, address = "fd", addr[3:]
        if not address.isdigit():
            raise SpecError(f"file descriptor '{address}' is not a valid integer in '{addr}'")
    else:
        for prefix in ("unix@", "ipv4@", "ipv6@"):
            if addr.startswith(prefix):
                kind, address = prefix[:-1], addr[len(prefix) :]
                break
        else:
            kind = "unix" if "/" in addr or ":" not in addr else "ipv4"
            address = addr
    opts: dict[str, Any] = {}
    i = 0
    while i < len(words):
        name = words[i]
        param = BIND_OPTIONS.get(name)
        what = f"'{addr} {name}' : "
        if param is None:
            hint = best_match(name, BIND_OPTIONS.names())
            tail = f" Did you mean '{hint}' maybe ?" if hint else ""
            raise SpecError(f"{what}unknown keyword '{name}'.{tail}")
        value = words[i + 1] if param.nargs and i + 1 < len(words) else ""
        i += 1 + param.nargs
        if name not in IMPLEMENTED:
            raise SpecError(
                f"{what}bind option '{name}' is not implemented yet by pyhaproxy for the "
                "master CLI (-S)"
            )
        opts[name] = _option(name, value, what)
    return Spec(spec, kind, address, opts)


def _option(name: str, value: str, what: str) -> Any:
    if name == "mode":
        try:
            return int(value, 8)
        except ValueError:
            raise SpecError(
                f"{what}''mode' : missing or invalid mode '{value}' (octal integer expected)'"
            ) from None
    if name == "level":
        if value not in LEVELS:
            raise SpecError(
                f"{what}''level' only supports 'user', 'operator', and 'admin' (got '{value}')'"
            )
        return value
    if name == "user":
        try:
            return pwd.getpwnam(value).pw_uid
        except KeyError:
            raise SpecError(f"{what}''user' : unknown user name '{value}''") from None
    if name == "group":
        try:
            return grp.getgrnam(value).gr_gid
        except KeyError:
            raise SpecError(f"{what}''group' : unknown group name '{value}''") from None
    try:  # uid, gid
        return as_int(name, value)
    except ConfigError as exc:
        raise SpecError(f"{what}'{exc.message}'") from None


def _bind_error(spec: Spec, strerror: str) -> OSError:
    where = "Binding [master-socket:0] for proxy MASTER"
    if spec.kind == "unix":
        return OSError(f"{where}: cannot bind UNIX socket ({strerror}) [{spec.address}]")
    return OSError(f"{where}: cannot bind socket ({strerror}) for [{spec.address}]")


def listen(spec: Spec) -> socket.socket:
    """A listening socket for ``-S``; OSError with HAProxy's words.  A unix
    socket is bound at a temporary path, given its owner and mode, then
    renamed into place, so it is never reachable with the wrong ones."""
    if spec.kind == "fd":
        try:
            sock = socket.socket(fileno=int(spec.address))
        except OSError as exc:
            raise _bind_error(spec, exc.strerror or str(exc)) from None
        sock.setblocking(False)
        return sock
    try:
        if spec.kind == "unix":
            sock = _listen_unix(spec)
        else:
            host, _, port = spec.address.rpartition(":")
            family = socket.AF_INET6 if spec.kind == "ipv6" else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host.strip("[]") or "0.0.0.0", int(port)))
            except BaseException:
                sock.close()
                raise
            sock.listen(16)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _bind_error(spec, reason) from None
    sock.setblocking(False)
    return sock


def _listen_unix(spec: Spec) -> socket.socket:
    path, opts = spec.address, spec.options
    tmp = f"{path}.{os.getpid()}.tmp"
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(tmp)
        sock.listen(16)
        uid = opts.get("user", opts.get("uid", -1))
        gid = opts.get("group", opts.get("gid", -1))
        if uid != -1 or gid != -1:
            os.chown(tmp, uid, gid)
        if "mode" in opts:
            os.chmod(tmp, opts["mode"])
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.stat(path).st_mode):
                os.unlink(path)  # a stale socket from a previous run
        os.rename(tmp, path)
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return sock


def uptime(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 86400}d{s // 3600 % 24:02d}h{s // 60 % 60:02d}m{s % 60:02d}s"


class _Conn:
    __slots__ = (
        "sock",
        "buf",
        "out",
        "prompt",
        "closing",
        "eof",
        "busy",
        "level",
        "target",
        "upstream",
        "payload",
        "head",
        "head_target",
    )

    def __init__(self, sock: socket.socket, level: int) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.out = bytearray()
        self.prompt = False
        self.closing = False  # close once the output is sent
        self.eof = False  # the client sent everything it will send
        self.busy = False  # waiting for a reload's result or a worker's answer
        self.level = level
        self.target = 0  # the default target: 0 is the master, else a pid
        self.upstream: socket.socket | None = None  # a worker's answer, being relayed
        self.payload: list[bytes] | None = None  # lines after "cmd <<"
        self.head = b""
        self.head_target = 0


class MasterCLI:
    def __init__(self, master: Master) -> None:
        self.master = master
        self.listeners: list[tuple[socket.socket, Spec]] = []
        self.conns: dict[int, _Conn] = {}

    def bind(self, specs: list[Spec]) -> None:
        for spec in specs:
            sock = listen(spec)
            self.listeners.append((sock, spec))
            self.master.sel.register(
                sock, selectors.EVENT_READ, lambda s, p=spec: self._accept(s, p)
            )

    def fds(self) -> list[int]:
        fds = [s.fileno() for s, _ in self.listeners] + list(self.conns)
        fds += [c.upstream.fileno() for c in self.conns.values() if c.upstream is not None]
        return fds

    def close(self) -> None:
        for conn in list(self.conns.values()):
            self._drop(conn)
        for sock, spec in self.listeners:
            with contextlib.suppress(KeyError, ValueError):
                self.master.sel.unregister(sock)
            if spec.kind == "unix":
                with contextlib.suppress(OSError):
                    os.unlink(spec.address)
            sock.close()
        self.listeners = []

    # ---- connections ----------------------------------------------------------

    def _accept(self, lsock: socket.socket, spec: Spec) -> None:
        try:
            sock, _ = lsock.accept()
        except OSError:
            return
        sock.setblocking(False)
        conn = _Conn(sock, spec.level)
        self.conns[sock.fileno()] = conn
        self.master.sel.register(sock, selectors.EVENT_READ, lambda s, c=conn: self._read(c))

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            conn.eof = True
            with contextlib.suppress(KeyError, ValueError):
                self.master.sel.unregister(conn.sock)
            self._run(conn)
            return
        conn.buf += data
        if len(conn.buf) > MAX_LINE:
            self._drop(conn)
            return
        self._run(conn)

    def _next(self, conn: _Conn) -> bytes | None:
        """The next command (up to an LF or an unescaped ``;``; a payload
        line up to an LF), without its terminator and trailing CR."""
        buf = conn.buf
        if conn.payload is not None:
            end = buf.find(b"\n")
        else:
            end, i, n = -1, 0, len(buf)
            while i < n:
                c = buf[i]
                if c == 0x5C:  # backslash: the next byte is escaped
                    i += 2
                    continue
                if c in (0x0A, 0x3B):
                    end = i
                    break
                i += 1
        if end < 0:
            return None
        line = bytes(buf[:end])
        del buf[: end + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def _run(self, conn: _Conn, answered: bool = False) -> None:
        """Run the commands received, until one waits (a reload, a worker)."""
        while not conn.busy and not conn.closing:
            line = self._next(conn)
            if line is None:
                break
            answered = True
            self._line(conn, line)
        idle = not conn.busy and not conn.closing
        if idle and (conn.eof or (answered and not conn.prompt and conn.payload is None)):
            conn.closing = True
        self._flush(conn)

    def _write(self, conn: _Conn, text: str | bytes) -> None:
        conn.out += text.encode("latin-1") if isinstance(text, str) else text

    def _prompt(self, conn: _Conn) -> None:
        if not conn.prompt:
            return
        if conn.payload is not None:
            self._write(conn, "+ ")
        elif conn.target == 0:
            failed = "[ReloadFailed]" if self.master.failed_reloads else ""
            self._write(conn, f"master{failed}> ")
        else:
            self._write(conn, f"{conn.target}> ")

    def _fail(self, conn: _Conn, text: str) -> None:
        """An error of the master CLI: answer, then close (HAProxy's
        ``pcli_reply_and_close``)."""
        self._write(conn, text)
        conn.buf.clear()
        conn.closing = True

    def _flush(self, conn: _Conn) -> None:
        if conn.out:
            try:
                conn.sock.setblocking(True)
                conn.sock.settimeout(2.0)
                conn.sock.sendall(conn.out)
                conn.sock.setblocking(False)
            except OSError:
                self._drop(conn)
                return
            conn.out.clear()
        if conn.closing and not conn.busy:
            self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if fd in self.conns:
            del self.conns[fd]
            with contextlib.suppress(KeyError, ValueError):
                self.master.sel.unregister(conn.sock)
        self._close_upstream(conn)
        conn.sock.close()

    # ---- commands -------------------------------------------------------------

    def _line(self, conn: _Conn, line: bytes) -> None:
        if conn.payload is not None:  # a payload line, or its end
            if line:
                conn.payload.append(line)
                self._prompt(conn)
                return
            text = b"\n".join([conn.head, *conn.payload, b"", b""])
            conn.payload = None
            self._forward(conn, conn.head_target, text)
            return
        text = line.decode("latin-1")
        words = text.split()
        target = conn.target
        if words and words[0].startswith("@"):
            pid = self._target(words[0][1:])
            if pid is None:
                self._fail(conn, f"Can't find the target PID matching the prefix '{words[0]}'\n")
                return
            rest = text.lstrip(" \t")[len(words[0]) :].lstrip(" \t")
            if not rest:  # the default target from now on
                conn.target = pid
                self._prompt(conn)
                return
            target, text, words = pid, rest, words[1:]
        elif words and words[0] in ("prompt", "quit", "operator", "user"):
            self._session(conn, words[0])
            return
        if target == 0:
            self._master_command(conn, words)
        elif text.rstrip(" \t").endswith("<<"):
            conn.payload, conn.head, conn.head_target = [], text.encode("latin-1"), target
            self._prompt(conn)
        else:
            self._forward(conn, target, text.encode("latin-1") + b"\n")

    def _session(self, conn: _Conn, word: str) -> None:
        """``prompt``, ``quit``, ``operator``, ``user``: the connection's own."""
        if word == "prompt":
            conn.prompt = not conn.prompt
        elif word == "quit":  # the prompt still comes, as HAProxy's
            self._prompt(conn)
            conn.buf.clear()
            conn.closing = True
            return
        elif word == "operator":
            if conn.level < OPERATOR:
                self._fail(conn, "Permission denied!\n")
                return
            conn.level = OPERATOR
        else:
            conn.level = USER
        self._prompt(conn)

    def _target(self, text: str) -> int | None:
        """The pid a prefix designates (0: the master), None if none."""
        m = self.master
        if text in ("", "master"):
            return 0
        if text.startswith("!"):
            if _INT.fullmatch(text[1:]):
                pid = int(text[1:])
                if pid in m.workers:
                    return pid
            return None
        if not _INT.fullmatch(text):
            return None
        n = int(text)
        if n == 0:
            return 0
        for w in self.current_workers():
            if w.relative == n:
                return w.pid
        return None

    def current_workers(self) -> list[Any]:
        m = self.master
        gen = m.current or m.pending
        return [w for w in m.workers.values() if not w.former and w.generation is gen]

    def _master_command(self, conn: _Conn, words: list[str]) -> None:
        if words[:1] in (["prompt"], ["quit"], ["operator"], ["user"]):  # "@master prompt"
            self._session(conn, words[0])
            return
        if words[:1] == ["help"]:
            self._write(conn, HELP + "\n")
        elif words == ["show", "proc"]:
            self._write(conn, self.show_proc() + "\n")
        elif words == ["show", "cli", "level"]:
            self._write(conn, LEVEL_NAMES[conn.level] + "\n\n")
        elif words == ["show", "version"]:
            self._write(conn, version_string() + "\n\n")
        elif words == ["reload"]:
            if conn.level < OPERATOR:
                self._write(conn, "Permission denied\n\n")
            else:
                conn.busy = True
                self.master.reload(conn)
                return  # the prompt follows the answer (reload_done)
        else:
            self._write(conn, UNKNOWN + "\n")
        self._prompt(conn)

    # ---- forwarding to a worker -------------------------------------------------

    def _forward(self, conn: _Conn, pid: int, text: bytes) -> None:
        """Send one command to worker ``pid``'s runtime API, relay its answer."""
        w = self.master.workers.get(pid)
        if w is None or w.channel is None:
            self._fail(conn, "Can't connect to the target CLI!\n")
            return
        mine, theirs = socket.socketpair()
        try:
            socket.send_fds(w.channel, [CHANNEL_LEVEL[conn.level]], [theirs.fileno()])
            mine.settimeout(2.0)
            mine.sendall(text)
            mine.shutdown(socket.SHUT_WR)
        except OSError:
            mine.close()
            self._fail(conn, "Can't connect to the target CLI!\n")
            return
        finally:
            theirs.close()
        mine.setblocking(False)
        conn.upstream = mine
        conn.busy = True
        self.master.sel.register(mine, selectors.EVENT_READ, lambda s, c=conn: self._relay(c))

    def _relay(self, conn: _Conn) -> None:
        up = conn.upstream
        if up is None:
            return
        try:
            data = up.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._write(conn, data)
            self._flush(conn)
            return
        self._close_upstream(conn)
        conn.busy = False
        self._prompt(conn)
        self._run(conn, answered=True)

    def _close_upstream(self, conn: _Conn) -> None:
        if conn.upstream is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.master.sel.unregister(conn.upstream)
            conn.upstream.close()
            conn.upstream = None

    # ---- master commands ----------------------------------------------------------

    def show_proc(self) -> str:
        m = self.master
        now = time.time()
        row = "{:<15} {:<15} {:<15} {:<15} {:<15}\n"
        out = [
            "#"
            + "{:<14} {:<15} {:<15} {:<15} {:<15}\n".format(
                "<PID>", "<type>", "<reloads>", "<uptime>", "<version>"
            )
        ]
        version = version_string()
        out.append(
            row.format(
                os.getpid(),
                "master",
                f"{m.reloads} [failed: {m.failed_reloads}]",
                uptime(now - m.started),
                version,
            )
        )
        current = [w for w in m.workers.values() if not w.former]
        former = [w for w in m.workers.values() if w.former]
        out.append("# workers\n")
        for w in current:
            out.append(
                row.format(
                    w.pid,
                    "worker",
                    m.reloads - w.generation.number,
                    uptime(now - w.started),
                    version,
                )
            )
        if former:
            out.append("# old workers\n")
            for w in former:
                out.append(
                    row.format(
                        w.pid,
                        "worker",
                        m.reloads - w.generation.number,
                        uptime(now - w.started),
                        version,
                    )
                )
        out.append("# programs\n")
        return "".join(out)

    def reload_done(self, conn: _Conn, ok: bool, messages: str) -> None:
        if conn.sock.fileno() not in self.conns:
            return
        conn.busy = False
        self._write(conn, f"Success={int(ok)}\n--\n{messages}\n")
        self._prompt(conn)
        self._run(conn, answered=True)
