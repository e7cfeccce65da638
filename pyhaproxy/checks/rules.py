"""tcp-check and http-check rule sets as data, and their pure interpreter.

configuration.txt §4.2 "tcp-check connect|send|send-binary|expect|comment",
"http-check send|expect|connect", "option httpchk".  A ``Ruleset`` is a tuple
of steps; ``Run`` walks it and tells the I/O driver (runner.py) what to do
next: connect, send bytes, wait for bytes, or finish with a status.  Nothing
here touches a socket, so every rule is tested with plain bytes.

Invariants: step numbers in messages are HAProxy's (``tcpcheck_get_step_id``:
the rule's position among the configured rules, 1-based, the implicit first
connect being step 0); only protocol ``tcp`` rule sets produce the generic
``TCPCHK did not match content ...`` words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyhaproxy.checks import status as st

MAX_RECV = 16384  # tune.chksize / bufsize: a full buffer is the last read


@dataclass(frozen=True, slots=True)
class Connect:
    """``ssl``: a TLS handshake follows the TCP connect, sending ``sni``;
    ``default``: takes the server's check settings (``connect default``)."""

    index: int = 0
    port: int = 0
    implicit: bool = False
    comment: str = ""
    ssl: bool = False
    sni: str = ""
    default: bool = False


@dataclass(frozen=True, slots=True)
class Send:
    index: int
    data: bytes
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Expect:
    """``kind``: string rstring binary rbinary (tcp), status rstatus string
    rstring (http, ``http`` set), or custom (a protocol's function)."""

    index: int
    kind: str
    pattern: Any = None  # bytes, compiled regex, status ranges, or a function
    text: str = ""  # the pattern as written, for messages
    negate: bool = False
    min_recv: int = -1
    ok: st.Status = st.L7OK
    error: st.Status | None = None
    tout: st.Status = st.L7TOUT
    http: bool = False
    comment: str = ""
    # a protocol check's words: a string, or a function of the bytes received
    on_success: Any = None
    on_error: Any = None
    status_code: Any = None  # a function of the bytes received: the code


def _words(spec: Any, buf: bytes) -> str:
    return spec(buf) if callable(spec) else spec


@dataclass(frozen=True, slots=True)
class Ruleset:
    """``proto``: "l4" (plain connect), "tcp" (tcp-check), "http", or a
    protocol check name ("redis", "smtp" ...)."""

    proto: str
    steps: tuple[Any, ...] = field(default_factory=tuple)
    # an http-check expect reads the body: wait for all of it (computed)
    needs_body: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        body = any(
            isinstance(s, Expect) and s.http and s.kind in ("string", "rstring") for s in self.steps
        )
        object.__setattr__(self, "needs_body", body)

    @property
    def generic(self) -> bool:
        return self.proto == "tcp"


L4 = Ruleset("l4", (Connect(implicit=True),))


def with_connect(proto: str, steps: list[Any]) -> Ruleset:
    """Prepend the implicit connect unless the first rule is a connect."""
    firsts = [s for s in steps if not isinstance(s, str)]
    if not firsts or not isinstance(firsts[0], Connect):
        steps = [Connect(implicit=True), *steps]
    return Ruleset(proto, tuple(steps))


def step_id(rule: Any) -> int:
    if rule is None:
        return 1
    if isinstance(rule, Connect) and rule.implicit:
        return 0
    return rule.index + 1


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Result:
    status: st.Status
    code: int = 0
    desc: str = ""


def conn_error(ruleset: Ruleset, rule: Any, reason: str) -> str:
    """The ``info`` of a connection problem: ``reason`` (strerror, may be
    empty) and, for tcp-check, the step (HAProxy's chk_report_conn_err)."""
    if not ruleset.generic:
        return reason
    sid = step_id(rule)
    if not sid:
        where = " at initial connection step of tcp-check"
    else:
        where = f" at step {sid} of tcp-check"
        if isinstance(rule, Connect):
            where += f" (connect port {rule.port})" if rule.port else " (connect)"
        elif isinstance(rule, Expect):
            if rule.kind == "string":
                where += f" (expect string '{rule.text}')"
            elif rule.kind == "binary":
                where += f" (expect binary '{rule.text}')"
            elif rule.kind in ("rstring", "rbinary"):
                where += " (expect regex)"
        elif isinstance(rule, Send):
            where += " (send)"
        if getattr(rule, "comment", ""):
            where += f" comment: '{rule.comment}'"
    return reason + where


def _onerror(ruleset: Ruleset, rule: Expect, matched: bool, info: str = "") -> str:
    msg = info
    if not info and ruleset.generic:
        msg = "TCPCHK matched unwanted content" if matched else "TCPCHK did not match content"
        sid = step_id(rule)
        if rule.kind in ("string",):
            msg += f" '{rule.text}' at step {sid}"
        elif rule.kind == "binary":
            msg += f" (binary) at step {sid}"
        elif rule.kind == "rstring":
            msg += f" (regex) at step {sid}"
        elif rule.kind == "rbinary":
            msg += f" (binary regex) at step {sid}"
    if rule.comment:
        msg += f" comment: {rule.comment}"
    return msg


# ---------------------------------------------------------------- tcp expect


def _tcp_match(rule: Expect, buf: bytes) -> bool:
    kind = rule.kind
    if kind in ("string", "binary"):
        return rule.pattern in buf
    if kind == "rstring":
        return rule.pattern.search(buf.decode("latin-1")) is not None
    if kind == "rbinary":
        return rule.pattern.search(buf.hex().upper()) is not None
    raise ValueError(kind)


def expect_tcp(ruleset: Ruleset, rule: Expect, buf: bytes, last: bool) -> Result | None:
    """None: wait for more bytes; a Result with status None: next rule."""
    if rule.kind == "custom":
        return rule.pattern(ruleset, rule, buf, last)
    if rule.min_recv >= 0 and len(buf) < rule.min_recv and not last:
        return None
    if not buf:
        if not last:
            return None
        # HAProxy's tcpcheck_eval_expect, whatever the rule set
        msg = f"TCPCHK got an empty response at step {step_id(rule)}"
        if rule.comment:
            msg += f" comment: '{rule.comment}'"
        return Result(rule.error or st.L7RSP, 0, msg)
    matched = _tcp_match(rule, buf)
    if not matched and not last and rule.min_recv == -1:
        return None
    if matched != rule.negate:
        return NEXT
    info = _words(rule.on_error, buf) if rule.on_error is not None else ""
    code = rule.status_code(buf) if rule.status_code is not None else 0
    return Result(rule.error or st.L7RSP, code, _onerror(ruleset, rule, matched, info))


NEXT = Result(st.UNK)  # sentinel: the expect passed, go on


# ---------------------------------------------------------------- http


@dataclass(frozen=True, slots=True)
class Response:
    code: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def parse_response(buf: bytes, last: bool, need_body: bool) -> Response | Result | None:
    """A complete enough HTTP/1 response, None (wait) or an L7RSP Result."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if last:
            return Result(st.L7RSP, 0, "")
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/\d\.\d (\d{3})(?: (.*))?$", lines[0])
    if m is None:
        return Result(st.L7RSP, 0, "")
    headers = []
    length = -1
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        headers.append((name, value))
        if name == "content-length" and value.isdigit():
            length = int(value)
    body = buf[end + 4 :]
    if need_body and not last and (length < 0 or len(body) < length):
        return None
    if length >= 0:
        body = body[:length]
    return Response(int(m.group(1)), m.group(2) or "", tuple(headers), body)


_STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3})(?: (.*))?$")


@dataclass(frozen=True, slots=True)
class Fast:
    """The shape of the two rule sets most checks run, which the runner
    drives without walking the steps: a plain connect (``request`` None),
    or ``option httpchk`` -- connect, send ``request``, expect a status in
    ``ranges`` with no body to read.  ``status_of`` decides an answer the
    way ``Run.feed`` would, or returns None to hand it over to ``Run``."""

    request: bytes | None = None
    ranges: tuple[tuple[int, int], ...] = ()
    ok: st.Status = st.L4OK
    error: st.Status = st.L7STS

    def status_of(self, data: bytes) -> tuple[st.Status, int, str] | None:
        end = data.find(b"\r\n")
        if end < 0 or data.find(b"\r\n\r\n") < 0:
            return None
        m = _STATUS_LINE.match(data, 0, end)
        if m is None:
            return None
        code = int(m.group(1))
        for lo, hi in self.ranges:
            if lo <= code <= hi:
                return self.ok, code, ""
        reason = m.group(2)
        return self.error, code, reason.decode("latin-1") if reason else ""


def fast_path(ruleset: Ruleset) -> Fast | None:
    """The ``Fast`` form of ``ruleset``, or None when it has another shape."""
    steps = ruleset.steps
    if not steps or steps[0] != Connect(implicit=True):
        return None
    if ruleset.proto == "l4" and len(steps) == 1:
        return Fast()
    if ruleset.proto != "http" or len(steps) != 3 or ruleset.needs_body:
        return None
    send, expect = steps[1], steps[2]
    if not isinstance(send, Send) or not isinstance(expect, Expect):
        return None
    if (
        expect.kind != "status"
        or not expect.http
        or expect.negate
        or expect.min_recv != -1
        or expect.on_success is not None
        or expect.on_error is not None
        or expect.status_code is not None
    ):
        return None
    return Fast(send.data, expect.pattern, expect.ok, expect.error or st.L7STS)


def status_in(ranges: tuple[tuple[int, int], ...], code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in ranges)


def expect_http(rule: Expect, resp: Response) -> Result:
    kind = rule.kind
    if kind == "status":
        matched = status_in(rule.pattern, resp.code)
    elif kind == "rstatus":
        matched = rule.pattern.search(str(resp.code)) is not None
    elif kind == "string":
        matched = rule.pattern in resp.body
    elif kind == "rstring":
        matched = rule.pattern.search(resp.body.decode("latin-1")) is not None
    else:
        raise ValueError(kind)
    if matched != rule.negate:
        return NEXT
    if kind in ("status", "rstatus"):
        return Result(rule.error or st.L7STS, resp.code, resp.reason)
    words = (
        "HTTP check matched unwanted content" if rule.negate else "HTTP content check did not match"
    )
    return Result(rule.error or st.L7RSP, resp.code, words)


DEFAULT_HTTP_EXPECT = Expect(-1, "status", ((200, 399),), "200-399", http=True)


# ---------------------------------------------------------------- the run


class Run:
    """One check's walk through a rule set.

    The driver calls ``next()`` to get the step to perform (Connect, Send,
    Expect) or a final ``Result``; for an Expect it calls ``feed(buf, last)``
    with every byte received since the last send, which returns None (keep
    reading) or a step/Result as ``next()`` does."""

    __slots__ = ("ruleset", "pos", "current", "response", "received")

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.pos = 0
        self.current: Any = None  # the last rule started (for messages)
        self.response: Response | None = None
        self.received = b""  # what the last expect read

    def next(self) -> Any:
        steps = self.ruleset.steps
        while self.pos < len(steps):
            rule = steps[self.pos]
            self.pos += 1
            if isinstance(rule, Send):
                self.response = None
            self.current = rule
            return rule
        return self._success()

    def peek(self) -> Any:
        """The step after the current one (None at the end)."""
        steps = self.ruleset.steps
        return steps[self.pos] if self.pos < len(steps) else None

    def _success(self) -> Result:
        rule = self.current
        generic = self.ruleset.generic
        if isinstance(rule, Expect):
            code = self.response.code if self.response is not None else 0
            if rule.status_code is not None:
                code = rule.status_code(self.received)
            if rule.on_success is not None:
                return Result(rule.ok, code, _words(rule.on_success, self.received))
            return Result(rule.ok, code, "(tcp-check)" if generic else "")
        if isinstance(rule, Connect):
            ok = st.L6OK if rule.ssl else st.L4OK
            return Result(ok, 0, "" if rule.implicit or not generic else "(tcp-check)")
        return Result(st.L7OK, 0, "(tcp-check)")

    def feed(self, buf: bytes, last: bool) -> Any:
        rule = self.current
        assert isinstance(rule, Expect)
        last = last or len(buf) >= MAX_RECV
        self.received = buf
        if rule.http:
            if self.response is None:
                got = parse_response(buf, last, self.ruleset.needs_body)
                if got is None:
                    return None
                if isinstance(got, Result):
                    return got
                self.response = got
            res = expect_http(rule, self.response)
        else:
            res = expect_tcp(self.ruleset, rule, buf, last)
            if res is None:
                return None
        if res is not NEXT:
            return res
        return self.next()

    def timeout_status(self) -> st.Status:
        rule = self.current
        return rule.tout if isinstance(rule, Expect) else st.L7TOUT
