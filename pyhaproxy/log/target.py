"""Log targets: where messages go and how they are framed (configuration.txt
§4.2 "log").

``log <target> [len <length>] [format <format>] [sample <ranges>:<size>]
<facility> [<level> [<minlevel>]]``

A ``Target`` owns a non-blocking datagram socket (UDP, or unix datagram for
``/dev/log`` and other paths) or a file descriptor (``stdout``, ``stderr``,
``fd@N``).  Sending never blocks and never raises: a message that cannot be
sent at once (receiver absent, buffer full) is dropped and counted in
``Target.dropped`` (HAProxy's ``DroppedLogs``).

Invariants: the socket is created when the target is built (at start-up),
``send`` does one system call; the header is rebuilt per message but its date
part is cached per second (``syslog.py``).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from pyhaproxy.log.syslog import FACILITIES, FORMATS, LEVELS, header

DEFAULT_LEN = 1024  # HAProxy's default max line length


class TargetError(Exception):
    """A target that cannot be used; the text is HAProxy-shaped."""


@dataclass(slots=True)
class Sample:
    """``sample <ranges>:<size>``: of every ``size`` messages, send those whose
    1-based index falls in one of the ranges."""

    ranges: tuple[tuple[int, int], ...]
    size: int
    count: int = 0

    def take(self) -> bool:
        self.count = self.count % self.size + 1
        n = self.count
        return any(lo <= n <= hi for lo, hi in self.ranges)


def parse_sample(text: str) -> Sample:
    if ":" not in text:
        raise TargetError(f"log : sample: missing size in '{text}'")
    spec, size_s = text.rsplit(":", 1)
    if not size_s.isdigit() or int(size_s) < 1:
        raise TargetError(f"log : sample: invalid size '{size_s}'")
    size = int(size_s)
    ranges = []
    for part in spec.split(","):
        lo_s, _, hi_s = part.partition("-")
        if not lo_s.isdigit() or (hi_s and not hi_s.isdigit()):
            raise TargetError(f"log : sample: invalid range '{part}'")
        lo, hi = int(lo_s), int(hi_s or lo_s)
        if lo < 1 or hi < lo or hi > size:
            raise TargetError(f"log : sample: range '{part}' out of 1-{size}")
        ranges.append((lo, hi))
    return Sample(tuple(ranges), size)


class Target:
    """One ``log`` line, ready to send."""

    __slots__ = (
        "text",
        "fmt",
        "maxlen",
        "facility",
        "maxlevel",
        "minlevel",
        "sample",
        "sock",
        "addr",
        "fd",
        "dropped",
        "sent",
    )

    def __init__(self, words: tuple[str, ...]) -> None:
        args = list(words[1:])
        self.text = args.pop(0)
        self.fmt = "rfc3164"
        self.maxlen = DEFAULT_LEN
        self.sample: Sample | None = None
        while args and args[0] in ("len", "format", "sample"):
            key, value = args[0], args[1]
            args = args[2:]
            if key == "len":
                self.maxlen = int(value)
            elif key == "format":
                if value not in FORMATS:
                    raise TargetError(f"log : unknown log format '{value}'")
                self.fmt = value
            else:
                self.sample = parse_sample(value)
        self.facility = FACILITIES.index(args[0])
        self.maxlevel = LEVELS.index(args[1]) if len(args) > 1 else 7
        self.minlevel = LEVELS.index(args[2]) if len(args) > 2 else 0
        self.dropped = self.sent = 0
        self.sock: socket.socket | None = None
        self.addr: object = None
        self.fd = -1
        self._open(self.text)

    def _open(self, text: str) -> None:
        if text in ("stdout", "stderr"):
            self.fd = 1 if text == "stdout" else 2
            return
        if text.startswith("fd@"):
            if not text[3:].isdigit():
                raise TargetError(f"log : invalid file descriptor in '{text}'")
            self.fd = int(text[3:])
            return
        if text.startswith("unix@"):
            text = text[5:]
        if text.startswith("/"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.setblocking(False)
            self.addr = text
            return
        family = 0
        for prefix, fam in (
            ("udp4@", socket.AF_INET),
            ("udp6@", socket.AF_INET6),
            ("udp@", 0),
            ("ipv4@", socket.AF_INET),
            ("ipv6@", socket.AF_INET6),
        ):
            if text.startswith(prefix):
                text, family = text[len(prefix) :], fam
                break
        else:
            if "@" in text:
                raise TargetError(
                    f"log : '{text}' : this address family is not implemented yet by pyhaproxy"
                )
        host, port = text, "514"
        if text.startswith("["):
            end = text.find("]")
            host, rest = text[1:end], text[end + 1 :]
            port = rest[1:] if rest.startswith(":") else port
        elif text.count(":") == 1:
            host, port = text.split(":")
        elif ":" in text and family != socket.AF_INET6:
            # an IPv6 address with a port: the last colon separates it
            host, port = text.rsplit(":", 1)
        try:
            info = socket.getaddrinfo(host or "127.0.0.1", int(port), family, socket.SOCK_DGRAM)
        except (OSError, ValueError) as exc:
            raise TargetError(f"log : cannot resolve '{text}' ({exc})") from None
        fam, _, _, _, addr = info[0]
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.addr = addr

    def send(
        self, level: int, msg: str, now: float, tag: str, pid: int, host: str, sd: str = ""
    ) -> None:
        """Frame ``msg`` at ``level`` and send it without blocking."""
        if level > self.maxlevel:
            return
        if level < self.minlevel:
            level = self.minlevel
        sample = self.sample
        if sample is not None and not sample.take():
            return
        head = header(self.fmt, self.facility * 8 + level, level, now, tag, pid, host, sd)
        data = f"{head}{msg}\n".encode("utf-8", "replace")
        if len(data) > self.maxlen:  # truncated, the LF kept (len N)
            data = data[: self.maxlen - 1] + b"\n"
        self.write(data)

    def write(self, data: bytes) -> None:
        try:
            if self.sock is not None:
                self.sock.sendto(data, self.addr)  # type: ignore[arg-type]
            else:
                os.write(self.fd, data)
            self.sent += 1
        except OSError:  # EAGAIN (full), ECONNREFUSED/ENOENT (no receiver), ...
            self.dropped += 1

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
