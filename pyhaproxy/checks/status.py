"""The check-status table: codes, results and the words messages use.

HAProxy's ``check_statuses[]`` (src/check.c, management.txt §9.1 "check_status"):
each status is a short code shown by the stats (``L4CON``), the result it
stands for (failed, passed, conditionally passed) and the description that
server state messages quote (``reason: Layer4 connection problem``).
Statuses from ``L7OK`` on carry a response code (``code: 200``).
"""

from __future__ import annotations

from dataclasses import dataclass

FAILED, PASSED, CONDPASS, UNKNOWN = "failed", "passed", "condpass", "unknown"


@dataclass(frozen=True, slots=True)
class Status:
    code: str  # "L4CON"
    result: str  # FAILED / PASSED / CONDPASS / UNKNOWN
    words: str  # "Layer4 connection problem"
    with_code: bool = False  # HAProxy's status >= HCHK_STATUS_L57DATA


def _s(code: str, result: str, words: str, with_code: bool = False) -> Status:
    return Status(code, result, words, with_code)


UNK = _s("UNK", UNKNOWN, "Unknown")
INI = _s("INI", UNKNOWN, "Initializing")
HANA = _s("HANA", FAILED, "Health analyze")
SOCKERR = _s("SOCKERR", FAILED, "Socket error")
L4OK = _s("L4OK", PASSED, "Layer4 check passed")
L4TOUT = _s("L4TOUT", FAILED, "Layer4 timeout")
L4CON = _s("L4CON", FAILED, "Layer4 connection problem")
L6OK = _s("L6OK", PASSED, "Layer6 check passed")
L6TOUT = _s("L6TOUT", FAILED, "Layer6 timeout")
L6RSP = _s("L6RSP", FAILED, "Layer6 invalid response")
L7TOUT = _s("L7TOUT", FAILED, "Layer7 timeout")
L7RSP = _s("L7RSP", FAILED, "Layer7 invalid response")
L7OK = _s("L7OK", PASSED, "Layer7 check passed", True)
L7OKC = _s("L7OKC", CONDPASS, "Layer7 check conditionally passed", True)
L7STS = _s("L7STS", FAILED, "Layer7 wrong status", True)

BY_CODE = {
    s.code: s
    for s in (UNK, INI, HANA, SOCKERR, L4OK, L4TOUT, L4CON, L6OK, L6TOUT, L6RSP)
    + (L7TOUT, L7RSP, L7OK, L7OKC, L7STS)
}


def by_name(word: str) -> Status | None:
    """A status named in ``ok-status``/``error-status``/``tout-status``."""
    return BY_CODE.get(word)
