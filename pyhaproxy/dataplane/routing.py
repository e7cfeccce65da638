"""Frontends: where a stream goes, compiled once from the configuration.

Routing order (configuration.txt §4.2 "use_backend"): the first
unconditional ``use_backend``, else ``default_backend``, else the proxy itself
when it has servers or backend capability (``listen``).  Conditional rules
are refused at parse time until ACLs land.

``http-request return`` (configuration.txt §4.2 "http-request return") is
compiled into the four possible responses (GET/HEAD x keep-alive/close).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from pyhaproxy.config.model import BACKEND

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config, Proxy, Rule
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
        "timeout_http_request",
        "timeout_keep_alive",
        "local",
    )

    def __init__(self, px: Proxy, backend: BackendRT | None, runtime: Runtime) -> None:
        self.name = px.name
        self.kind = "frontend" if px.kind == "frontend" else "proxy"
        self.mode = px.mode
        self.backend = backend
        self.runtime = runtime
        t = px.settings.timeouts
        self.timeout_client = t.get("client")
        self.timeout_http_request = t.get("http-request")
        # "If this parameter is not set, the "http-request" timeout applies,
        # and if both are not set, "timeout client" still applies"
        self.timeout_keep_alive = (
            t.get("http-keep-alive") or self.timeout_http_request or self.timeout_client
        )
        self.local: Local | None = None


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
            raise RouteError(f"[{rule.where}] : conditions are not implemented yet")
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


def local_response(px: Proxy) -> Local | None:
    for rule in px.settings.rules:
        if rule.keyword == "http-request" and rule.words[1] == "return":
            return compile_return(rule)
    return None
