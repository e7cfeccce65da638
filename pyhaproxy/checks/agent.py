"""Agent checks: replies, and what they do to the server (configuration.txt
§5.2 "agent-check", "agent-send", "agent-port", "agent-inter").

A reply is one line of words separated by spaces, tabs or commas, with an
optional ``# description``: a weight ``75%``, ``maxconn:N``, an admin state
(``ready`` ``drain`` ``maint``) and a health state (``up`` ``down``
``stopped`` ``fail``); the last word of a kind wins (HAProxy's
tcpcheck_agent_expect_reply).  ``parse`` is pure; ``apply`` acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyhaproxy.checks import report
from pyhaproxy.checks import rules as R
from pyhaproxy.checks import status as st
from pyhaproxy.dataplane.backend import DOWN, UP


@dataclass(frozen=True, slots=True)
class Reply:
    health: str = ""
    admin: str = ""
    weight: str = ""
    maxconn: str = ""
    desc: str = ""
    error: str = ""


def parse(line: str) -> Reply:
    words: dict[str, str] = {}
    error = ""
    text, sharp, desc = line.partition("#")
    for word in text.replace("\t", " ").replace(",", " ").split():
        low = word.lower()
        if low in ("up", "down", "stopped", "fail"):
            words["health"] = low
        elif low in ("ready", "drain", "maint"):
            words["admin"] = low
        elif word[0].isdigit() and "%" in word:
            words["weight"] = word
        elif low.startswith("maxconn:"):
            words["maxconn"] = word[8:]
        elif not error:
            error = word
    return Reply(desc=desc.strip(" \t") if sharp else "", error=error, **words)


def _expect_reply(ruleset: R.Ruleset, rule: R.Expect, buf: bytes, last: bool) -> R.Result | None:
    for i, b in enumerate(buf):
        if b in (10, 13):
            line = buf[:i].decode("latin-1")
            return R.Result(st.UNK, 0, line)
    if not last:
        return None
    return R.Result(st.UNK, 0, "\0incomplete")


def ruleset(send: str) -> R.Ruleset:
    steps: list[Any] = []
    if send:
        steps.append(R.Send(0, send.encode("latin-1")))
    steps.append(R.Expect(len(steps), "custom", _expect_reply))
    return R.with_connect("agent", steps)


def _weight(server: Any, word: str) -> str:
    """Relative weight ``N%`` of the configured one; a warning or ""."""
    try:
        pct = int(word.split("%")[0])
    except ValueError:
        return "Invalid weight"
    if pct < 0:
        return "Relative weight must be positive."
    server.set_weight(min(256, server.iweight * min(pct, 25600) // 100))
    return ""


def _admin(check: Any, word: str) -> None:
    """``drain``, ``maint``, ``ready``: HAProxy's srv_adm_set_*, as the
    runtime API's, passed down the servers tracking this one
    (runtime/adminstate.py, through the runtime's book)."""
    from pyhaproxy.runtime import adminstate

    adminstate.change(check.sched.book, check.server, word)


def apply(check: Any, status: st.Status, code: int, desc: str, result: Any) -> None:
    """Act on an agent check's outcome (HAProxy's tcpcheck_agent_expect_reply):
    connection failures change nothing; a reply sets the admin state, the
    weight, ``maxconn``, and with a health word the health of both the agent
    check and the server's health check (``up``: UP at once, ``down``,
    ``stopped``, ``fail``: DOWN at once)."""
    if status is not st.UNK:  # no reply: a connection problem, not counted
        check.status, check.code, check.desc = status, code, desc
        return
    if desc == "\0incomplete":
        check.desc = "Ignoring incomplete line from agent"
        return
    reply = parse(desc)
    if reply.admin:
        _admin(check, reply.admin)
    srv = check.server
    warning = _weight(srv, reply.weight) if reply.weight else ""
    if reply.maxconn.isdigit():
        srv.maxconn = int(reply.maxconn)
    if not reply.health:
        check.status = st.L7OK
        check.desc = f"agent reports an error : {reply.error}" if reply.error else warning
        return
    up = reply.health == "up"
    msg = reply.desc
    if not msg or up:
        msg = reply.error or warning or msg
    info = f"via agent : {reply.health}" + (f" ({msg})" if msg else "")
    status = st.L7OK if up else st.L7STS
    top = check.rise + check.fall - 1
    if up:
        check.health = top
    else:
        check.health = 0
    check.status, check.code, check.desc = status, 0, info
    # the health check keeps its own health (HAProxy's stats show it): an
    # agent's "up" brings the server UP only if that check agrees
    # (check_notify_success)
    main = check.main
    if up and main is not None and main.enabled and main.health < main.rise:
        return
    detail = report.check_status(status, 0, info, check.duration)
    check.mark(UP if up else DOWN, detail)
