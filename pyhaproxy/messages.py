"""Messages on stderr in HAProxy's shape.

``[ALERT]    (PID) : config : parsing [FILE:LINE] : text`` — operators grep
for these, so the level tags, their padding and the ``config :`` context are
HAProxy's.  Like HAProxy, the first warning or alert is preceded by two
NOTICE lines naming the version and the executable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from pyhaproxy import HAPROXY_COMPAT_VERSION, __version__

_TAGS = {"NOTICE": "[NOTICE]   ", "WARNING": "[WARNING]  ", "ALERT": "[ALERT]    "}


@dataclass(frozen=True, slots=True)
class Where:
    """A position in the configuration: file name and 1-based line number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Reporter:
    """Writes NOTICE/WARNING/ALERT lines and counts them.

    ``quiet`` (``-q``) silences notices and warnings, as HAProxy's ``-q`` does
    for everything but alerts.
    """

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.alerts = 0
        self.warnings = 0
        self._banner_done = False
        # once logging runs, every message also goes to the global log
        # targets at HAProxy's level (pyhaproxy/log/logger.py Logging.message)
        self.sink: Callable[[str, str], None] | None = None

    def _emit(self, level: str, text: str, context: str | None) -> None:
        if self.sink is not None:
            self.sink(level, text)
        if level != "NOTICE" and not self._banner_done:
            self._banner_done = True
            if not self.quiet:
                self._write("NOTICE", f"haproxy version is {version_string()}", None)
                self._write("NOTICE", f"path to executable is {sys.argv[0]}", None)
        if self.quiet and level != "ALERT":
            return
        self._write(level, text, context)

    def _write(self, level: str, text: str, context: str | None) -> None:
        ctx = f"{context} : " if context else ""
        self.stream.write(f"{_TAGS[level]}({os.getpid()}) : {ctx}{text}\n")
        self.stream.flush()

    def alert(self, text: str, context: str | None = "config") -> None:
        self.alerts += 1
        self._emit("ALERT", text, context)

    def warning(self, text: str, context: str | None = "config") -> None:
        self.warnings += 1
        self._emit("WARNING", text, context)

    def notice(self, text: str, context: str | None = "config") -> None:
        self._emit("NOTICE", text, context)


def version_string() -> str:
    return f"{HAPROXY_COMPAT_VERSION}-pyhaproxy-{__version__}"


def parsing(where: Where, text: str) -> str:
    """``parsing [FILE:LINE] : text``, the usual shape of a keyword error."""
    return f"parsing [{where}] : {text}"
