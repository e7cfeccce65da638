"""Syslog message headers, as pure functions (configuration.txt §4.2 "log",
the ``format`` argument).

``header(fmt, pri, level, now, tag, pid, host)`` returns the text placed in
front of a log line; the line itself (already built by the log-format) and
the trailing LF are added by the target.  Formats:

- ``rfc3164`` (default) and ``local``: ``<PRI>Mmm dd HH:MM:SS [HOST ]TAG[PID]: ``
  (``local`` never carries the host name);
- ``rfc5424``: ``<PRI>1 ISO-TIME HOST TAG PID - SD `` (``-`` for a missing host
  and an empty structured-data part);
- ``short``: ``<LEVEL>``; ``priority``: ``<PRI>``; ``timed``: ``<LEVEL>ISO-TIME ``;
  ``iso``: ``ISO-TIME ``; ``raw``: nothing.

``PRI`` is ``facility * 8 + level``.  The date parts are cached per second.
"""

from __future__ import annotations

import time

FACILITIES = (
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "auth2",
    "ftp",
    "ntp",
    "audit",
    "alert",
    "cron2",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
)
LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
FORMATS = ("rfc3164", "rfc5424", "short", "iso", "timed", "local", "priority", "raw")

EMERG, ALERT, CRIT, ERR, WARNING, NOTICE, INFO, DEBUG = range(8)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_bsd_cache: tuple[int, str] = (-1, "")


def bsd_date(now: float) -> str:
    """``Mmm dd HH:MM:SS`` in local time, the day padded with a space."""
    global _bsd_cache
    sec = int(now)
    if _bsd_cache[0] != sec:
        tm = time.localtime(sec)
        text = (
            f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
        )
        _bsd_cache = (sec, text)
    return _bsd_cache[1]


def iso_date(now: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS.uuuuuu+HH:MM`` in local time (RFC 5424 §6.2.3)."""
    sec = int(now)
    tm = time.localtime(sec)
    off = tm.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off) // 60
    return (
        f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}."
        f"{int((now - sec) * 1e6):06d}{sign}{off // 60:02d}:{off % 60:02d}"
    )


def header(
    fmt: str,
    pri: int,
    level: int,
    now: float,
    tag: str,
    pid: int,
    host: str = "",
    sd: str = "",
) -> str:
    """The header of one message in format ``fmt`` (see the module doc)."""
    if fmt == "rfc3164":
        hostpart = f"{host} " if host else ""
        return f"<{pri}>{bsd_date(now)} {hostpart}{tag}[{pid}]: "
    if fmt == "local":
        return f"<{pri}>{bsd_date(now)} {tag}[{pid}]: "
    if fmt == "rfc5424":
        return f"<{pri}>1 {iso_date(now)} {host or '-'} {tag} {pid} - {sd or '-'} "
    if fmt == "short":
        return f"<{level}>"
    if fmt == "priority":
        return f"<{pri}>"
    if fmt == "timed":
        return f"<{level}>{iso_date(now)} "
    if fmt == "iso":
        return f"{iso_date(now)} "
    return ""
