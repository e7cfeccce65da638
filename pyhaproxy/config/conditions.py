"""Conditional expressions of `.if`, `.elif` and `-cc` (configuration.txt §2.4).

The grammar is in ``grammar.lark`` (start symbol ``cond``).  Predicates:
``defined() feature() streq() strneq() version_atleast() version_before()
openssl_version_atleast() openssl_version_before() ssllib_name_startswith()``.
Version tests answer as HAProxy ``HAPROXY_COMPAT_VERSION``; ``feature()``
answers from ``FEATURES``, which lists only what pyhaproxy really does.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from pyhaproxy import HAPROXY_COMPAT_VERSION

_PARSER = Lark(
    (Path(__file__).with_name("conditions.lark")).read_text(),
    start="cond",
    parser="lalr",
    maybe_placeholders=False,
)

# Feature flags as printed by `-vv` ("+NAME" present, "-NAME" absent).  An
# entry becomes True when the feature's issue lands.
FEATURES: dict[str, bool] = {
    "EPOLL": True,  # uvloop's libuv polls with epoll on Linux
    "GETADDRINFO": True,
    "OPENSSL": True,  # TLS with the ssl module (pyhaproxy/tls)
    "SYSTEMD": False,  # sd_notify: not yet
    "THREAD": False,  # nbthread maps to worker processes: not yet
    "PCRE2": False,  # regexes are Python's re module
    "LUA": False,
    "PROMEX": False,
    "ZLIB": False,
    "QUIC": False,
}


class ConditionError(Exception):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def parse_version(text: str) -> tuple[int, ...] | None:
    """``2.4-dev19`` / ``2.6.12`` → comparable tuple; missing parts are zero.

    A ``-devN`` suffix sorts before the release it precedes."""
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-dev(\d+)|-.*)?", text.strip())
    if not m:
        return None
    major, minor, patch, dev = m.groups()
    devkey = int(dev) if dev is not None else 10**6
    return (int(major), int(minor or 0), int(patch or 0), devkey)


def _openssl_version() -> tuple[int, ...]:
    return tuple(ssl.OPENSSL_VERSION_INFO[:3]) + (10**6,)


def _unquote_arg(text: str) -> str:
    """Second-level quoting of predicate arguments (§2.2): quotes and escapes."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":
            end = text.index("'", i + 1)
            out.append(text[i + 1 : end])
            i = end + 1
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(text[i])
                i += 1
            i += 1
        elif c == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _version_pred(compare: Callable[[tuple, tuple], bool], current: Callable[[], tuple]):
    def pred(args: list[str], env: Mapping[str, str]) -> bool:
        want = parse_version(args[0])
        if want is None:
            raise ValueError(f"unparsable version number '{args[0]}'")
        return compare(current(), want)

    return pred


_PREDICATES: dict[str, tuple[int, Callable[[list[str], Mapping[str, str]], bool]]] = {
    "defined": (1, lambda a, env: a[0] in env),
    "feature": (1, lambda a, env: FEATURES.get(a[0], False)),
    "streq": (2, lambda a, env: a[0] == a[1]),
    "strneq": (2, lambda a, env: a[0] != a[1]),
    "version_atleast": (
        1,
        _version_pred(lambda cur, want: cur >= want, lambda: parse_version(HAPROXY_COMPAT_VERSION)),
    ),
    "version_before": (
        1,
        _version_pred(lambda cur, want: cur < want, lambda: parse_version(HAPROXY_COMPAT_VERSION)),
    ),
    "openssl_version_atleast": (1, _version_pred(lambda c, w: c >= w, _openssl_version)),
    "openssl_version_before": (1, _version_pred(lambda c, w: c < w, _openssl_version)),
    "ssllib_name_startswith": (1, lambda a, env: ssl.OPENSSL_VERSION.startswith(a[0])),
}


def evaluate(text: str, env: Mapping[str, str]) -> bool:
    """Evaluate a condition; an empty one is false.  Raises ConditionError."""
    if not text.strip():
        return False
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        pos = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        if pos >= len(text):
            raise ConditionError(
                f"unexpected end of conditional expression '{text}'", len(text)
            ) from None
        raise ConditionError(
            f"unparsable conditional expression '{text}'"
            if pos == 0
            else f"unexpected character '{text[pos]}' in conditional expression '{text}'",
            pos,
        ) from None
    return _eval(tree.children[0], env, text) if tree.children else False


def _eval(node: Tree | Token, env: Mapping[str, str], text: str) -> bool:
    kind = node.data
    if kind == "integer":
        return int(node.children[0]) != 0
    if kind == "negate":
        return not _eval(node.children[0], env, text)
    if kind == "and_expr":
        return all(_eval(c, env, text) for c in node.children)
    if kind == "or_expr":
        return any(_eval(c, env, text) for c in node.children)
    if kind == "predicate":
        name_tok, cargs = node.children
        name = str(name_tok)
        pos = name_tok.start_pos or 0
        if name not in _PREDICATES:
            raise ConditionError(f"unknown predicate '{name}' in conditional expression", pos)
        nargs, func = _PREDICATES[name]
        args = [_unquote_arg(str(c.children[0])) if c.children else "" for c in cargs.children]
        if len(args) == 1 and args[0] == "" and nargs > 0 and not cargs.children[0].children:
            args = []
        if len(args) < nargs:
            raise ConditionError(
                f"missing arguments (got {len(args)}/{nargs}) of predicate '{name}'", pos
            )
        if len(args) > nargs:
            raise ConditionError(f"too many arguments for predicate '{name}'", pos)
        try:
            return func(args, env)
        except ValueError as exc:
            raise ConditionError(str(exc), pos) from None
    raise AssertionError(f"unexpected node {kind}")  # grammar and evaluator disagree
