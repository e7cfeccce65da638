"""Frontends: where a stream goes, compiled once from the configuration.

Routing order (configuration.txt §4.2 "use_backend"): the conditional
``use_backend`` rules before the first unconditional one, in order, then that
unconditional one, else ``default_backend``, else the proxy itself when it has
servers or backend capability (``listen``).  In HTTP mode the conditions run
per request (each request of a keep-alive connection is routed on its own:
``HttpSession.be``); in TCP mode once, when the connection is accepted, and
only conditions on the connection (``src``) are accepted.

``tcp-request inspect-delay`` and ``tcp-request content accept|reject [if|unless
COND]`` of a TCP frontend or listen section compile into ``TcpContent``
(``compile_tcp_content``), run by ``tcp.py`` on the client's first bytes.

``http-request return|deny|redirect`` and ``monitor-uri`` (configuration.txt
§4.2) are compiled into the four possible responses (GET/HEAD x
keep-alive/close), or a function building them for redirects that copy the
request's path or Host.  ``compile_rules`` returns one function run when a
request head is complete (``http.py``), or None when the proxy has no rule:
then no work is done per request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from pyhaproxy.config.keywords.options import http_mode
from pyhaproxy.config.model import BACKEND
from pyhaproxy.dataplane.counters import Counters
from pyhaproxy.dataplane.errors import ERROR_PAGES
from pyhaproxy.dataplane.h1hdr import Forward
from pyhaproxy.dataplane.services import SERVICES
from pyhaproxy.sample import RequestView
from pyhaproxy.sample.fetch import ContentView
from pyhaproxy.sample.payload import LAYER_CONTENT

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config, Proxy, Rule, SwitchingRule
    from pyhaproxy.dataplane import Runtime
    from pyhaproxy.dataplane.backend import BackendRT

Local = tuple[tuple[bytes, bytes], tuple[bytes, bytes]]


class RouteError(Exception):
    pass


class FrontendRT:
    __slots__ = (
        "name",
        "kind",
        "mode",
        "backend",
        "runtime",
        "timeout_client",
        "timeout_client_fin",
        "timeout_http_request",
        "timeout_keep_alive",
        "local",
        "rules",
        "switch",
        "modes",
        "content",
        "log",
        "c",
        "listeners",
        "limit",
    )

    def __init__(self, px: Proxy, backend: BackendRT | None, runtime: Runtime) -> None:
        self.name = px.name
        self.kind = "frontend" if px.kind == "frontend" else "proxy"
        self.mode = px.mode
        self.backend = backend
        self.runtime = runtime
        t = px.settings.timeouts
        self.timeout_client = t.get("client")
        self.timeout_client_fin = t.get("client-fin")  # half-closed client (tcp.py)
        self.timeout_http_request = t.get("http-request")
        # "If this parameter is not set, the "http-request" timeout applies,
        # and if both are not set, "timeout client" still applies"
        self.timeout_keep_alive = (
            t.get("http-keep-alive") or self.timeout_http_request or self.timeout_client
        )
        self.local: Local | None = None
        self.rules: Callable[[Any, bytes], Local | None] | None = None
        # conditional use_backend rules: (test, backend), first match wins
        self.switch: list[tuple[Callable[[RequestView], bool], BackendRT | None]] = []
        self.log: Any = None  # its ProxyLog (pyhaproxy/log) when it logs
        # tcp-request content rules (TCP mode), or None: no inspection
        http = px.mode == "http" or (backend is not None and backend.mode == "http")
        self.content = compile_tcp_content(px, runtime.http_limits[0], http)
        self.c = Counters()  # traffic counters (counters.py)
        self.listeners: list[Any] = []  # its bind lines' (dataplane.start)
        self.limit: Any = None  # its maxconn's Limit shared by them, if set
        # HTTP connection mode (h1hdr.KAL/SCL/CLO) and forwardfor/originalto
        # headers with each backend (None: no backend)
        opts = px.settings.options
        self.modes: dict[BackendRT | None, tuple[int, Forward | None]] = {
            None: (http_mode(opts), Forward(opts, {}) or None)
        }

    def select_tcp(self, transport: Any) -> BackendRT | None:
        """The backend of a TCP connection (conditions on ``src`` only)."""
        view = RequestView(b"", lambda: transport.get_extra_info("peername"), transport)
        for test, be in self.switch:
            if test(view):
                return be
        return self.backend


ACCEPT, REJECT, WAIT = 1, 0, -1  # TcpContent.run verdicts


class TcpContent:
    """A frontend's ``tcp-request content`` rules (configuration.txt §4.2
    "tcp-request content", "tcp-request inspect-delay"), HAProxy's
    tcp_inspect_request: the rules run in order on the bytes received so
    far; a rule whose condition cannot be decided yet (an ACL MISS) makes
    the stream wait for more data, unless the evaluation is final (the
    inspect-delay expired or is not set, the buffer is full, the client
    shut its side); ``accept`` stops the evaluation, ``reject`` closes the
    connection, and no rule matching accepts."""

    __slots__ = ("delay", "rules", "limit")

    def __init__(self, delay: int, rules: list[tuple[Any, bool]], limit: int) -> None:
        self.delay = delay  # ms; 0: evaluated once, at once
        self.rules = rules  # (condition test | None, accept?)
        self.limit = limit  # a full buffer: tune.bufsize minus tune.maxrewrite

    def run(self, data: bytes, final: bool, transport: Any) -> int:
        final = final or not self.delay or len(data) >= self.limit
        view = ContentView(data, lambda: transport.get_extra_info("peername"), transport, final)
        for test, accept in self.rules:
            if test is not None:
                view.miss = False
                if not test(view):
                    if view.miss:
                        return WAIT
                    continue
            return ACCEPT if accept else REJECT
        return ACCEPT


def compile_tcp_content(px: Proxy, limit: int, http: bool = False) -> TcpContent | None:
    """The ``tcp-request content`` rules of a frontend, None without any
    (the inspect-delay alone changes nothing: HAProxy runs no analyser).
    The actions and conditions pyhaproxy cannot run were refused when the
    configuration was read (config/keywords/rules.py); rules of a frontend
    whose streams are HTTP (``http``) are refused here."""
    rules: list[tuple[Any, bool]] = []
    for rule in px.settings.rules:
        if rule.keyword != "tcp-request" or rule.words[1:2] != ("content",):
            continue
        cond = rule.compiled
        if http or (cond is not None and cond.layer > LAYER_CONTENT):
            from pyhaproxy.dataplane import StartError  # the start reports it

            what = "in an HTTP proxy" if http else "on HTTP contents"
            raise StartError(
                f"Proxy '{px.name}': [{rule.where}] : 'tcp-request content' rules {what} "
                "are not implemented yet by pyhaproxy"
            )
        rules.append((cond.test if cond is not None else None, rule.words[2] == "accept"))
    if not rules:
        return None
    delay = int(px.settings.extra.get("tcp-request inspect-delay") or 0)
    return TcpContent(delay, rules, limit)


def conditional_rules(px: Proxy) -> list[SwitchingRule]:
    """The conditional use_backend rules evaluated before the first
    unconditional one (rules after it are never reached)."""
    out = []
    for rule in px.switching_rules:
        if not rule.condition:
            break
        out.append(rule)
    return out


def route(config: Config, px: Proxy) -> str | None:
    """Name of the backend a frontend's streams go to (None: none)."""
    for rule in px.switching_rules:
        if not rule.condition:
            return rule.backend
    if px.settings.default_backend:
        return px.settings.default_backend[0]
    if px.cap & BACKEND:
        return px.name
    return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Other"


def compile_return(rule: Rule) -> Local:
    """``http-request return [status <code>] [content-type <type>]
    [{string|lf-string} <str> | {file|lf-file} <file>] [hdr <name> <value>]*``"""
    words = rule.words[2:]
    status, ctype, body, hdrs = 200, None, None, []
    i = 0
    while i < len(words):
        w = words[i]
        arg = words[i + 1] if i + 1 < len(words) else None
        if w in ("if", "unless"):
            break
        if arg is None:
            raise RouteError(f"[{rule.where}] : 'http-request return' : '{w}' expects an argument")
        if w == "status":
            status = int(arg)
        elif w == "content-type":
            ctype = arg
        elif w in ("string", "lf-string"):
            if "%" in arg and w == "lf-string":
                raise RouteError(f"[{rule.where}] : log-format strings are not implemented yet")
            body = arg.encode()
        elif w in ("file", "lf-file"):
            with open(arg, "rb") as fh:
                body = fh.read()
        elif w == "hdr":
            if i + 2 >= len(words):
                raise RouteError(f"[{rule.where}] : 'hdr' expects <name> and <value>")
            hdrs.append((arg, words[i + 2]))
            i += 1
        else:
            raise RouteError(
                f"[{rule.where}] : 'http-request return' : '{w}' is not implemented yet"
            )
        i += 2
    if body and not ctype:
        raise RouteError(
            f"[{rule.where}] : error detected while parsing 'http-request return' rule : "
            "a content type must be defined when non-empty payload is configured."
        )
    # HAProxy's order: the rule's headers, content-length, content-type
    lines = [f"HTTP/1.1 {status} {_reason(status)}"]
    lines += [f"{n.lower()}: {v}" for n, v in hdrs]
    payload = body or b""
    lines.append(f"content-length: {len(payload)}")
    if ctype and body is not None:
        lines.append(f"content-type: {ctype}")
    head = "\r\n".join(lines) + "\r\n"
    close = "connection: close\r\n"
    get = ((head + "\r\n").encode() + payload, (head + close + "\r\n").encode() + payload)
    hd = ((head + "\r\n").encode(), (head + close + "\r\n").encode())
    return (get, hd)


def page(status: int) -> Local:
    """HAProxy's built-in page for ``status`` (errors.py), for GET and HEAD."""
    keep, close = ERROR_PAGES[(status, False)], ERROR_PAGES[(status, True)]

    def head_of(msg: bytes) -> bytes:
        return msg[: msg.index(b"\r\n\r\n") + 4]

    return ((keep, close), (head_of(keep), head_of(close)))


def _redirect_bytes(code: int, location: str) -> Local:
    head = f"HTTP/1.1 {code} {_reason(code)}\r\ncontent-length: 0\r\nlocation: {location}\r\n"
    if code in (302, 303, 307):
        head += "cache-control: no-cache\r\n"
    keep = (head + "\r\n").encode("latin-1")
    close = (head + "connection: close\r\n\r\n").encode("latin-1")
    return ((keep, close), (keep, close))


def compile_deny(rule: Rule) -> Local:
    """``http-request deny [deny_status <status>] [if|unless <condition>]``"""
    words = rule.words[2:]
    status = 403
    if words and words[0] == "deny_status" and len(words) > 1:
        status = int(words[1])
        words = words[2:]
    if words and words[0] not in ("if", "unless"):
        raise RouteError(
            f"[{rule.where}] : 'http-request deny' : '{words[0]}' is not implemented yet"
        )
    if (status, False) not in ERROR_PAGES:
        raise RouteError(f"[{rule.where}] : status code '{status}' not handled")
    return page(status)


def compile_redirect(rule: Rule) -> Callable[[RequestView], Local]:
    """``http-request redirect <loc|prefix|scheme> <to> [code <code>] [if|unless ...]``"""
    words = rule.words[2:]
    if len(words) < 2 or words[0] not in ("location", "prefix", "scheme"):
        raise RouteError(f"[{rule.where}] : 'http-request redirect' : bad arguments")
    kind, target = words[0], words[1]
    code = 302
    rest = words[2:]
    while rest and rest[0] not in ("if", "unless"):
        if rest[0] == "code" and len(rest) > 1 and rest[1] in ("301", "302", "303", "307", "308"):
            code = int(rest[1])
            rest = rest[2:]
        else:
            raise RouteError(
                f"[{rule.where}] : 'http-request redirect' : '{rest[0]}' is not implemented yet"
            )
    if "%[" in target or "%" in target and kind == "location":
        raise RouteError(f"[{rule.where}] : log-format redirects are not implemented yet")
    if kind == "location":
        fixed = _redirect_bytes(code, target)
        return lambda v: fixed
    if kind == "prefix":
        if target == "/":
            return lambda v: _redirect_bytes(code, v.pathq)
        return lambda v: _redirect_bytes(code, target + v.pathq)

    def scheme(v: RequestView) -> Local:
        host = v.headers.get("host")
        return _redirect_bytes(code, f"{target}://{host[0] if host else ''}{v.pathq}")

    return scheme


def _steps(p: Proxy) -> list[tuple[Any, Callable[[RequestView], Local]]]:
    """A proxy's http-request rules as (condition test | None, action)."""
    steps: list[tuple[Any, Callable[[RequestView], Local]]] = []
    for rule in p.settings.rules:
        if rule.keyword != "http-request":
            continue
        action = rule.words[1]
        if action == "return":
            fixed = compile_return(rule)
            act: Callable[[RequestView], Local] = lambda v, f=fixed: f  # noqa: E731
        elif action == "deny":
            fixed = compile_deny(rule)
            act = lambda v, f=fixed: f  # noqa: E731
        elif action == "redirect":
            act = compile_redirect(rule)
        elif action == "use-service" and len(rule.words) > 2 and rule.words[2] in SERVICES:
            act = SERVICES[rule.words[2]](rule)  # services.py
        else:
            raise RouteError(f"[{rule.where}] : 'http-request {action}' is not implemented yet")
        cond = rule.compiled.test if rule.compiled is not None else None
        steps.append((cond, act))
    return steps


def _run_steps(steps: list, view: RequestView) -> Local | None:
    for cond, act in steps:
        if cond is None or cond(view):
            return act(view)
    return None


def compile_rules(
    px: Proxy,
    be_px: Proxy | None,
    switch: Sequence[tuple[Callable[[RequestView], bool], BackendRT | None, Proxy | None]] = (),
    default: BackendRT | None = None,
) -> Callable[[Any, bytes], Local | None] | None:
    """The frontend's http-request rules (and monitor-uri), its conditional
    use_backend rules, then the chosen backend's http-request rules, as one
    function ``(session, head bytes) → local answer | None`` (None: forward;
    ``session.be`` is set to the chosen backend).  ``switch``: (test,
    backend, its proxy) per conditional rule; ``be_px``/``default``: where
    the other requests go."""
    monitor = px.settings.extra.get("monitor-uri")
    fe_steps = _steps(px)
    cache: dict[int, list] = {}

    def be_steps(p: Proxy | None) -> list:
        if p is None or p is px:
            return []
        if id(p) not in cache:
            cache[id(p)] = _steps(p)
        return cache[id(p)]

    default_steps = be_steps(be_px)
    routes = [(test, be, be_steps(p)) for test, be, p in switch]
    if not fe_steps and not default_steps and not routes and monitor is None:
        return None
    ok = page(200)

    def run(sess: Any, head: bytes) -> Local | None:
        view = RequestView(head, lambda: sess.transport.get_extra_info("peername"), sess.transport)
        if monitor is not None and view.uri == monitor:
            return ok
        if fe_steps:
            local = _run_steps(fe_steps, view)
            if local is not None:
                return local
        steps = default_steps
        if routes:
            be = default
            for test, target, target_steps in routes:
                if test(view):
                    be, steps = target, target_steps
                    break
            sess.be = be
        return _run_steps(steps, view) if steps else None

    return run
