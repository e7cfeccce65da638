"""Session termination states (configuration.txt §8.5).

The data plane records two characters where a stream really ends: the first
says what ended it, the second in which phase.  ``None``/"" means a normal
end (``--``).  HTTP logs add two cookie characters (``--`` without
persistence cookies), hence ``%tsc`` has four characters, ``%ts`` two.

First character (cause)::

    -  normal end               C  client aborted          c  client timeout
    S  server aborted/refused   s  server timeout          P  proxy (deny, bad message)
    L  local answer             R  resource exhausted      I  internal error
    D  server went down         K  killed by admin         U  server back up

Second character (phase)::

    R  waiting for the request  Q  queued                  C  connecting
    H  waiting for response headers                        D  data phase
    L  last data (to the client)                           T  tarpit
    -  normal end
"""

from __future__ import annotations

NORMAL = "--"
# the scenarios of §8.5 the data plane produces
CLIENT_TIMEOUT_REQUEST = "cR"  # timeout http-request / client before a request: 408
CLIENT_ABORT_REQUEST = "CR"  # client closed with a partial request
CLIENT_ABORT_QUEUE = "CQ"  # client closed while queued (abortonclose)
CLIENT_ABORT_CONNECT = "CC"  # client closed while connecting (abortonclose)
CLIENT_ABORT_HEADERS = "CH"  # client closed while the server was thinking
CLIENT_TIMEOUT_DATA = "cD"  # timeout client in the data phase
CLIENT_ABORT_DATA = "CD"  # client closed or reset during the data phase
SERVER_TIMEOUT_QUEUE = "sQ"  # timeout queue: 503
SERVER_TIMEOUT_CONNECT = "sC"  # timeout connect, retries exhausted: 503
SERVER_REFUSED = "SC"  # connection refused, retries exhausted: 503
SERVER_TIMEOUT_HEADERS = "sH"  # timeout server before the response head: 504
SERVER_ABORT_HEADERS = "SH"  # server closed before the response head: 502
SERVER_TIMEOUT_DATA = "sD"  # timeout server in the data phase
SERVER_ABORT_DATA = "SD"  # server closed or reset during the data phase
PROXY_BAD_RESPONSE = "PH"  # invalid response head: 502
PROXY_DENY = "PR"  # http-request deny, bad request (400)
LOCAL_RESPONSE = "LR"  # http-request return/redirect, monitor-uri
NO_SERVER = "SC"  # no server available (503, "-" server): logged as SC


def tcp_state(term: str | None) -> str:
    """``%ts``: the two characters."""
    return term or NORMAL


def http_state(term: str | None) -> str:
    """``%tsc``: the two characters and the (absent) cookie characters."""
    return (term or NORMAL) + "--"


def is_error(term: str | None, status: int) -> bool:
    """What ``option log-separate-errors`` and ``dontlog-normal`` call an
    error: an abnormal termination or a 5xx status (configuration.txt §4.2)."""
    return bool(term) or status >= 500
