"""`tcp-check` and `http-check` lines (configuration.txt §4.2).

Each line is compiled into one rule of ``rules.py`` when it is read
(``Rule.compiled``) so syntax errors point at their line; the rule set of a
backend is assembled at start by ``build.ruleset``.  Actions whose behaviour
pyhaproxy lacks (``send-lf``, ``set-var``, ``alpn`` connects, ``hdr``
expects ...) are recorded as pending: ``-c`` accepts them, a start refuses.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pyhaproxy.checks import rules as R
from pyhaproxy.checks import status as st
from pyhaproxy.config.model import BACKEND, Rule
from pyhaproxy.config.registry import ConfigError, keyword

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

_EXPECT_TCP = ("string", "rstring", "binary", "rbinary")
_EXPECT_HTTP = ("status", "rstatus", "string", "rstring")
_EXPECT_PENDING = ("string-lf", "binary-lf", "hdr", "fhdr", "custom")


def _index(ctx: Context, kw: str) -> int:
    """Position of the new rule among the proxy's rules of ``kw``."""
    return sum(1 for r in ctx.settings.rules if r.keyword == kw)


def _comment(words: list[str], i: int) -> str:
    if i + 1 >= len(words):
        raise ConfigError(f"'{words[i]}' expects a string as argument.")
    return words[i + 1]


def unescape(text: str) -> bytes:
    """HAProxy's ``\\r \\n \\t \\\\`` escapes in tcp-check send strings."""
    return re.sub(
        r"\\(.)", lambda m: {"r": "\r", "n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text
    ).encode("latin-1")


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"invalid binary string ({text}).") from None


def _statuses(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        try:
            out.append((int(lo), int(hi or lo)))
        except ValueError:
            raise ConfigError(f"invalid HTTP status code range '{part}'.") from None
    return tuple(out)


def parse_connect(ctx: Context, kw: str, words: list[str], index: int) -> R.Connect:
    if kw == "tcp-check":
        # HAProxy's parse_tcpcheck_connect: connect first, or never
        earlier = [
            r.compiled
            for r in ctx.settings.rules
            if r.keyword == kw and r.compiled is not None and not isinstance(r.compiled, str)
        ]
        if earlier and not isinstance(earlier[0], R.Connect):
            raise ConfigError(
                "'tcp-check connect' : first step MUST also be a 'connect', optionally "
                "preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a "
                "'connect' step in the tcp-check ruleset."
            )
    port, comment, use_ssl, sni, default = 0, "", False, "", False
    i = 2
    while i < len(words):
        w = words[i]
        if w == "port" and i + 1 < len(words):
            if not words[i + 1].isdigit() or not 0 < int(words[i + 1]) < 65536:
                raise ConfigError(f"'{kw} connect' : invalid port '{words[i + 1]}'.")
            port = int(words[i + 1])
            i += 2
        elif w == "comment":
            comment = _comment(words, i)
            i += 2
        elif w == "default":
            default = True
            i += 1
        elif w == "linger":
            i += 1
        elif w == "ssl":
            use_ssl = True
            i += 1
        elif w == "sni":
            if i + 1 >= len(words) or not words[i + 1]:
                raise ConfigError(f"'{kw} connect' : '{w}' expects a string as argument.")
            sni = words[i + 1]
            i += 2
        elif w in ("addr", "alpn", "proto"):
            ctx.pending(f"{kw} connect {w}")
            i += 2
        elif w in ("send-proxy", "via-socks4", "same"):
            ctx.pending(f"{kw} connect {w}") if w != "same" else None
            i += 1
        else:
            raise ConfigError(
                f"'{kw} connect' only supports 'comment', 'port', 'addr', 'send-proxy', "
                f"'via-socks4', 'ssl', 'sni', 'alpn', 'proto', 'default' and 'linger' "
                f"but got '{w}' as argument."
            )
    return R.Connect(index, port, False, comment, use_ssl, sni, default)


def parse_expect(ctx: Context, kw: str, words: list[str], index: int) -> R.Expect:
    http = kw == "http-check"
    kinds = _EXPECT_HTTP if http else _EXPECT_TCP
    fields: dict = {"index": index, "http": http}
    i = 2
    while i < len(words):
        w = words[i]
        if w == "!":
            fields["negate"] = True
            i += 1
        elif w == "min-recv" and not http and i + 1 < len(words):
            fields["min_recv"] = int(words[i + 1])
            i += 2
        elif w == "comment":
            fields["comment"] = _comment(words, i)
            i += 2
        elif w in ("ok-status", "error-status", "tout-status") and i + 1 < len(words):
            s = st.by_name(words[i + 1])
            if s is None:
                raise ConfigError(f"'{kw} expect' : '{w}' : unknown status '{words[i + 1]}'.")
            fields[{"ok-status": "ok", "error-status": "error", "tout-status": "tout"}[w]] = s
            i += 2
        elif w in ("on-success", "on-error", "status-code"):
            ctx.pending(f"{kw} expect {w}")
            i += 2
        elif w in kinds or w in _EXPECT_PENDING:
            if i + 1 >= len(words):
                raise ConfigError(f"'{kw} expect {w}' expects <pattern> as an argument.")
            pattern = words[i + 1]
            if w in _EXPECT_PENDING:
                ctx.pending(f"{kw} expect {w}")
                return R.Expect(index, "string", b"", pattern, http=http)
            fields["kind"] = w
            fields["text"] = pattern
            if w == "status":
                fields["pattern"] = _statuses(pattern)
            elif w in ("rstatus", "rstring", "rbinary"):
                try:
                    fields["pattern"] = re.compile(pattern)
                except re.error as exc:
                    raise ConfigError(f"'{kw} expect {w}' : invalid regex: {exc}.") from None
            elif w == "binary":
                fields["pattern"] = _hex(pattern)
            else:
                fields["pattern"] = pattern.encode("latin-1")
            i += 2
        else:
            raise ConfigError(f"'{kw} expect' : unknown pattern match or option '{w}'.")
    if "kind" not in fields:
        raise ConfigError(f"'{kw} expect' : expects a pattern match.")
    return R.Expect(**fields)


def parse_send_http(ctx: Context, words: list[str]) -> dict:
    """``http-check send [meth M] [uri U] [ver V] [hdr N V]* [body B]``."""
    req: dict = {"hdrs": []}
    i = 2
    while i < len(words):
        w = words[i]
        if i + 1 >= len(words):
            raise ConfigError(f"'http-check send' : '{w}' expects an argument.")
        if w in ("meth", "uri", "ver", "body", "comment"):
            req[w] = words[i + 1]
            i += 2
        elif w == "hdr" and i + 2 < len(words):
            req["hdrs"].append((words[i + 1], words[i + 2]))
            i += 3
        elif w in ("uri-lf", "body-lf"):
            ctx.pending(f"http-check send {w}")
            i += 2
        else:
            raise ConfigError(
                "'http-check send' only supports 'comment', 'meth', 'uri', 'uri-lf', 'ver', "
                f"'hdr', 'body' and 'body-lf' but got '{w}' as argument."
            )
    return req


@keyword("tcp-check", sections=("defaults", "proxy"), cap=BACKEND, implemented=True)
def _tcp_check(ctx: Context) -> None:
    words = list(ctx.words)
    if len(words) < 2:
        raise ConfigError("'tcp-check' expects an action or argument.")
    action = words[1]
    index = _index(ctx, "tcp-check")
    compiled: object
    if action == "connect":
        compiled = parse_connect(ctx, "tcp-check", words, index)
    elif action in ("send", "send-binary"):
        if len(words) < 3:
            raise ConfigError(f"'tcp-check {action}' expects a string as argument.")
        data = unescape(words[2]) if action == "send" else _hex(words[2])
        comment = words[4] if len(words) > 4 and words[3] == "comment" else ""
        compiled = R.Send(index, data, comment)
    elif action == "expect":
        compiled = parse_expect(ctx, "tcp-check", words, index)
    elif action == "comment":
        compiled = _comment(words, 1)
    elif action in ("send-lf", "send-binary-lf", "set-var", "unset-var"):
        ctx.pending(f"tcp-check {action}")
        compiled = None
    else:
        raise ConfigError(
            "'tcp-check' expects 'comment', 'connect', 'send', 'send-lf', 'send-binary', "
            f"'send-binary-lf', 'expect', 'set-var' and 'unset-var' but got '{action}'."
        )
    ctx.settings.rules.append(Rule(ctx.where, "tcp-check", ctx.words, compiled))


@keyword("http-check", sections=("defaults", "proxy"), cap=BACKEND, implemented=True)
def _http_check(ctx: Context) -> None:
    words = list(ctx.words)
    if len(words) < 2:
        raise ConfigError("'http-check' expects an action or argument.")
    action = words[1]
    index = _index(ctx, "http-check")
    compiled: object
    if action == "connect":
        compiled = parse_connect(ctx, "http-check", words, index)
    elif action == "send":
        compiled = parse_send_http(ctx, words)
    elif action == "expect":
        compiled = parse_expect(ctx, "http-check", words, index)
    elif action == "comment":
        compiled = _comment(words, 1)
    elif action in ("send-state", "disable-on-404", "set-var", "unset-var"):
        ctx.pending(f"http-check {action}")
        compiled = None
    else:
        raise ConfigError(
            "'http-check' expects 'comment', 'connect', 'disable-on-404', 'expect', 'send', "
            f"'send-state', 'set-var' and 'unset-var' but got '{action}'."
        )
    ctx.settings.rules.append(Rule(ctx.where, "http-check", ctx.words, compiled))
