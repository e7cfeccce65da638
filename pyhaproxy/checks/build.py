"""The rule set a backend's checks run, from its options and check lines.

configuration.txt §4.2 "option httpchk", "option tcp-check", "http-check
send": the last check option of a proxy chooses the protocol; without one a
check is a plain TCP connect (L4OK).  ``http-check send`` completes the
request of ``option httpchk`` (default ``OPTIONS / HTTP/1.0``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import rules as R
from pyhaproxy.checks.protocols import PROTOCOLS

if TYPE_CHECKING:
    from pyhaproxy.config.model import Proxy

CHECK_OPTIONS = ("httpchk", "tcp-check", *PROTOCOLS)


def check_option(px: Proxy) -> tuple[str, Any] | None:
    """The check option in effect (the last one set), with its arguments."""
    found = None
    for name, value in px.settings.options.items():
        if name in CHECK_OPTIONS and value not in (False, None):
            found = (name, value)
    return found


def _attach_comments(lines: list[Any]) -> list[Any]:
    out: list[Any] = []
    comment = ""
    for rule in lines:
        if rule is None:
            continue
        if isinstance(rule, str):
            comment = rule
            continue
        if comment and not getattr(rule, "comment", "") and not isinstance(rule, dict):
            rule = dataclasses.replace(rule, comment=comment)
        comment = ""
        out.append(rule)
    return out


def http_request(args: tuple[str, ...], send: dict | None) -> bytes:
    meth, uri, ver = "OPTIONS", "/", "HTTP/1.0"
    if len(args) == 1:
        uri = args[0]
    elif len(args) >= 2:
        meth, uri = args[0], args[1]
        if len(args) > 2:
            ver = args[2]
    send = send or {"hdrs": []}
    meth = send.get("meth", meth)
    uri = send.get("uri", uri)
    ver = send.get("ver", ver)
    extra = ""
    if "\r\n" in ver:  # the old "HTTP/1.1\r\nHost:\ name" trick
        ver, _, extra = ver.partition("\r\n")
        extra = "".join(f"{h}\r\n" for h in extra.split("\r\n") if h)
    head = f"{meth} {uri} {ver}\r\n" + extra
    for name, value in send["hdrs"]:
        head += f"{name.lower()}: {value}\r\n"
    body = send.get("body", "")
    if body:
        head += f"content-length: {len(body.encode('latin-1'))}\r\n"
    if ver.upper() == "HTTP/1.1":
        head += "connection: close\r\n"
    return (head + "\r\n" + body).encode("latin-1")


def ruleset(px: Proxy) -> R.Ruleset:
    opt = check_option(px)
    if opt is None:
        return R.L4
    name, args = opt
    if name in PROTOCOLS:
        return PROTOCOLS[name](args if isinstance(args, tuple) else ())
    kw = "tcp-check" if name == "tcp-check" else "http-check"
    lines = _attach_comments([r.compiled for r in px.settings.rules if r.keyword == kw])
    if name == "tcp-check":
        return R.with_connect("tcp", lines)
    args = args if isinstance(args, tuple) else ()
    sends = [r for r in lines if isinstance(r, dict)]
    steps: list[Any] = []
    if not any(isinstance(r, R.Connect) for r in lines):
        steps.append(R.Connect(implicit=True))
    sent = False
    for index, r in enumerate(lines):
        if isinstance(r, dict):
            steps.append(R.Send(index, http_request(args, r)))
            sent = True
        else:
            steps.append(r)
    if not sent:
        pos = 1 if isinstance(steps[0], R.Connect) else 0
        steps.insert(pos, R.Send(0, http_request(args, sends[0] if sends else None)))
    if not any(isinstance(s, R.Expect) for s in steps):
        steps.append(R.DEFAULT_HTTP_EXPECT)
    return R.Ruleset("http", tuple(steps))
