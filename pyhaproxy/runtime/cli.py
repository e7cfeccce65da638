"""One connection to a ``stats socket`` (management.txt §9.3 "Unix Socket commands").

The line discipline is HAProxy 2.6's ``cli_io_handler``:

- a command ends at an LF or at a ``;`` not escaped by a backslash; a
  trailing CR is dropped; words are split on spaces and tabs, a backslash
  escapes the next character;
- a line ending with ``<<`` starts a payload, collected up to an empty line;
- every answer is followed by an LF, or by ``"\\n> "`` in interactive mode
  (``prompt``), or by ``"+ "`` while a payload is being typed;
- without ``prompt`` the connection closes once the commands already
  received are answered; ``quit`` closes at once;
- an idle connection closes after ``stats timeout`` (default 10s).

Command handlers are synchronous functions of the control plane
(``runtime/commands.py``); they return the text to send.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pyhaproxy.runtime import commands
from pyhaproxy.runtime.commands import PERMISSION_DENIED

if TYPE_CHECKING:
    from pyhaproxy.runtime.server import CliServer

log = logging.getLogger(__name__)

MAX_LINE = 16384  # HAProxy's trash chunk (tune.bufsize)
MAX_ARGS = 64  # MAX_CLI_ARGS


def split_words(line: str) -> tuple[list[str], str | None]:
    """Words of a command line (HAProxy's cli_parse_request) and the payload
    (the text after a ``<<`` word and its LF), if any."""
    args: list[str] = []
    payload = None
    i, n = 0, len(line)
    while len(args) < MAX_ARGS and i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        if line.startswith("<<\0", i) or line[i:] == "<<":
            payload = line[i + 3 :]
            break
        word = []
        while i < n and line[i] not in " \t":
            ch = line[i]
            if ch == "\\":
                if i + 1 < n:
                    word.append(line[i + 1])
                i += 2
                continue
            if ch == "\0":
                break
            word.append(ch)
            i += 1
        i += 1
        args.append("".join(word))
    return args, payload


class CliSession(asyncio.Protocol):
    """A CLI connection; ``level`` is the access level (commands.USER...)."""

    def __init__(self, server: CliServer, level: int) -> None:
        self.server = server
        self.rt = server.rt
        self.level = level
        self.transport: Any = None
        self.buf = bytearray()
        self.prompt = False
        self.payload: list[str] | None = None  # lines after "cmd <<"
        self.head = ""  # the command line that opened the payload
        self.closing = False
        self.timer: asyncio.TimerHandle | None = None

    # -- protocol interface ------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.server.sessions.add(self)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.sessions.discard(self)
        self.server.released(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.buf += data
        self._arm()
        self._process(eof=False)

    def eof_received(self) -> bool:
        if not self.closing:
            self._process(eof=True)
            self._close()
        return False

    # -- helpers -------------------------------------------------------------
    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.server.timeout, self._close)

    def _close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _next(self) -> str | None:
        """The next request (up to LF, or ``;`` outside a payload)."""
        buf = self.buf
        if self.payload is not None:
            end = buf.find(b"\n")
            if end < 0:
                return None
            line = bytes(buf[:end])
            del buf[: end + 1]
        else:
            i, n = 0, len(buf)
            while i < n:
                c = buf[i]
                if c == 0x5C:  # backslash: skip the escaped byte
                    i += 2
                    continue
                if c in (0x0A, 0x3B):
                    break
                i += 1
            if i >= n:
                return None
            line = bytes(buf[:i])
            del buf[: i + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        return line.decode("latin-1")

    def _process(self, eof: bool) -> None:
        out: list[str] = []
        while not self.closing:
            line = self._next()
            if line is None:
                if len(self.buf) >= MAX_LINE:
                    self.closing = True
                break
            if self.payload is not None:
                if line:
                    self.payload.append(line)
                    out.append("+ " if self.prompt else "")
                    continue
                text = self._run(self.head + "\0" + "\n".join(self.payload))
                self.payload = None
            elif line.endswith("<<"):
                self.head = line
                self.payload = []
                out.append("+ " if self.prompt else "")
                continue
            else:
                text = self._run(line)
            if self.closing:  # quit
                break
            if text:
                out.append(text)
            out.append("\n> " if self.prompt else "\n")
            # without prompt, stop once what was received is answered
            if not self.prompt and self.payload is None and not self.buf:
                self.closing = True
        if out and self.transport is not None:
            self.transport.write("".join(out).encode("latin-1"))
        if self.closing or (eof and not self.prompt):
            self._close()

    def _run(self, line: str) -> str | None:
        args, payload = split_words(line)
        cmd = commands.find(args) if args else None
        if cmd is None:
            return commands.usage_message(args)
        if self.level < cmd.level:
            return PERMISSION_DENIED
        try:
            text = cmd.handler(self, args, payload)
        except Exception:  # a bug must not take the CLI connection down
            log.exception("CLI command %r failed", line)
            return "Internal error.\n"
        share = self.rt.share  # master-worker: other workers run state changes too
        return text if share is None else share.ran(cmd.words, line, self.level, text)

    # -- for handlers --------------------------------------------------------
    def quit(self) -> None:
        self.closing = True

    def has_level(self, level: int) -> bool:
        return self.level >= level
