"""Logging (configuration.txt §4.2 "log", §8): syslog targets with
non-blocking senders (``target``), header formats (``syslog``), the
log-format compiler (``logformat``), termination states (``states``) and the
loggers the data plane calls (``logger``)."""

from pyhaproxy.log.logformat import FormatError, compile_format
from pyhaproxy.log.logger import Logging, ProxyLog, build
from pyhaproxy.log.target import Target, TargetError

__all__ = [
    "FormatError",
    "Logging",
    "ProxyLog",
    "Target",
    "TargetError",
    "build",
    "compile_format",
]
