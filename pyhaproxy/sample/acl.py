"""ACLs and conditions (configuration.txt §7.1, §7.2, §7.4).

``parse_expression(words)`` compiles ``<fetch>[(<arg>)] [flags] [patterns]``
into a test over a ``RequestView``; ``compile_condition(words, acls)``
compiles ``if|unless <condition>`` (grammar in ``condition.lark``) into one
closure, once, when the configuration loads.  Errors are ``AclError`` whose
message is HAProxy's wording after "error detected while parsing ... : ".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import LarkError
from lark.lexer import Lexer

from pyhaproxy.sample.fetch import FETCHES, RequestView
from pyhaproxy.sample.haproxy_fetches import HAPROXY_FETCHES
from pyhaproxy.sample.patterns import PatternExpr, PatternRef, read_file
from pyhaproxy.sample.payload import LAYER_CONTENT

__all__ = [
    "PREDEFINED",
    "AclError",
    "AclPending",
    "Condition",
    "Test",
    "compile_condition",
    "parse_expression",
]

Test = Callable[[RequestView], bool]

# layer a test needs: 4 = connection only (src), 5 = the request buffer's
# contents (payload.py: ``tcp-request content`` inspection), 7 = HTTP request
LAYER_TCP, LAYER_HTTP = 4, 7

# A test over request contents may not be decidable yet (HAProxy's
# ACL_TEST_MISS: a fetch said SMP_F_MAY_CHANGE and the view is not final):
# it returns False and sets ``view.miss``.  As in acl_exec_cond, an AND stops
# at a MISS, an OR goes on (a PASS wins), and a negation (``!``, ``unless``)
# keeps a MISS a MISS: ``_negate``.  So a condition returning True passed;
# False with ``view.miss`` set must wait for more data.


class AclError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AclPending(AclError):
    """Valid for HAProxy, not implemented by pyhaproxy yet: ``-c`` accepts
    it, a real start refuses it (the keyword records itself as pending)."""


class Condition:
    """A compiled condition: ``test(view)``, the deepest layer it reads and
    the pattern expressions of its anonymous ACLs (``{ ... }``)."""

    __slots__ = ("test", "layer", "exprs")

    def __init__(
        self, test: Test, layer: int, exprs: list[list[PatternExpr]] | None = None
    ) -> None:
        self.test = test
        self.layer = layer
        self.exprs = exprs or []


_MATCHES = ("str", "beg", "end", "sub", "reg", "found", "ip", "bool", "int")
_KNOWN_MATCHES = (*_MATCHES, "bool", "int", "bin", "len", "dir", "dom", "ipv4", "ipv6")


def _matcher(method: str, patterns: list[str], icase: bool) -> Callable[[Any], bool]:
    if method == "found":
        return lambda x: True
    if method == "int":
        return _int_matcher(patterns)
    if method == "ip":
        nets = []
        for p in patterns:
            try:
                nets.append(ipaddress.ip_network(p, strict=False))
            except ValueError:
                raise AclError(f"'{p}' is not a valid IPv4 or IPv6 address.") from None
        return lambda x: any(x in n for n in nets)
    if method == "reg":
        regs = []
        for p in patterns:
            try:
                regs.append(re.compile(p, re.IGNORECASE if icase else 0))
            except re.error as exc:
                raise AclError(
                    f"regex '{p}' is invalid (error={exc.msg}, erroffset={exc.pos})."
                ) from None
        return lambda x: any(r.search(x) for r in regs)
    if icase:
        pats = [p.lower() for p in patterns]
        low: Callable[[str], str] = str.lower
    else:
        pats = list(patterns)
        low = str  # identity for str
    if method == "str":
        table = frozenset(pats)
        return lambda x: low(x) in table
    if method == "beg":
        begs = tuple(pats)
        return lambda x: low(x).startswith(begs)
    if method == "end":
        ends = tuple(pats)
        return lambda x: low(x).endswith(ends)
    if method == "sub":
        return lambda x: any(p in low(x) for p in pats)
    raise AssertionError(method)


def _int_matcher(patterns: list[str]) -> Callable[[Any], bool]:
    """``-m int``: ``N``, ``A:B``, ``:B``, ``A:`` ranges, or ``lt|le|eq|ge|gt N``."""
    ops = {"lt": "<", "le": "<=", "eq": "==", "ge": ">=", "gt": ">"}
    ranges: list[tuple[float, float]] = []
    i = 0
    try:
        while i < len(patterns):
            p = patterns[i]
            if p in ops and i + 1 < len(patterns):
                n = int(patterns[i + 1])
                op = ops[p]
                lo = n + (op == ">") if ">" in op else float("-inf")
                hi = n - (op == "<") if "<" in op else float("inf")
                ranges.append((n, n) if op == "==" else (lo, hi))
                i += 2
                continue
            lo_s, sep, hi_s = p.partition(":")
            lo = int(lo_s) if lo_s else float("-inf")
            hi = (int(hi_s) if hi_s else float("inf")) if sep else lo
            ranges.append((lo, hi))
            i += 1
    except ValueError:
        raise AclError(f"'{patterns[i]}' is not a number.") from None

    def match(x: Any) -> bool:
        try:
            n = int(x)
        except (TypeError, ValueError):
            return False
        return any(lo <= n <= hi for lo, hi in ranges)

    return match


_FETCH_RE = re.compile(r"([A-Za-z0-9_.]+)(?:\((.*)\))?")


def parse_expression(words: Sequence[str]) -> tuple[Test, int]:
    """``<fetch>[(<arg>)] [-i] [-m <meth>] [--] [<pattern>...]`` → (test, layer)."""
    text = words[0]
    m = _FETCH_RE.fullmatch(text)
    name = m.group(1) if m else text.split("(")[0]
    fetch = FETCHES.get(name)
    if m is not None and fetch is None and name in HAPROXY_FETCHES:
        raise AclPending(f"fetch method '{name}'")
    if m is None or fetch is None:
        raise AclError(f"unknown fetch method '{name}' in ACL expression '{text}'.")
    arg = m.group(2)
    if arg is not None and not fetch.arg:
        raise AclError(f"fetch method '{name}' : no argument supported, but got '{arg}'.")
    if fetch.arg == "req" and not arg:
        raise AclError(f"fetch method '{name}' : missing argument.")
    method, icase = fetch.match, False
    # -f files, each read with the -i given before it (as HAProxy loads it then)
    files: list[tuple[str, bool]] = []
    i = 1
    while i < len(words) and words[i].startswith("-"):
        flag = words[i]
        if flag == "--":
            i += 1
            break
        if flag == "-i":
            icase = True
        elif flag == "-n":
            pass
        elif flag == "-m":
            if files:
                raise AclError(
                    "'-m' must only be specified before patterns and files in parsing "
                    "ACL expression."
                )
            if i + 1 >= len(words):
                raise AclError("missing matching method after '-m'.")
            i += 1
            method = words[i]
            if method not in _KNOWN_MATCHES:
                raise AclError(f"unknown matching method '{method}' when parsing ACL expression.")
            if method not in _MATCHES:
                raise AclPending(f"matching method '-m {method}'")
        elif flag == "-f":
            i += 1
            files.append((words[i] if i < len(words) else "", icase))  # "": fails to open
        elif flag in ("-M", "-u"):
            raise AclPending(f"ACL option '{flag}'")
        else:
            raise AclError(
                f"'{flag}' is not a valid ACL option. "
                "Please use '--' before any pattern beginning with a '-'."
            )
        i += 1
    patterns = list(words[i:])
    get = fetch.build(arg)
    if fetch.layer == LAYER_TCP and method != "ip":
        raw = get
        get = lambda v: [str(x) for x in raw(v)]  # noqa: E731
    elif fetch.layer != LAYER_TCP and method == "ip":
        raw = get

        def get(v: RequestView) -> list[Any]:
            out = []
            for x in raw(v):
                try:
                    out.append(ipaddress.ip_address(x))
                except ValueError:
                    pass
            return out

    if method == "bool":  # no pattern: the sample as a boolean
        truth = get

        def test(v: RequestView) -> bool:
            return any(x not in ("0", "", 0, False) for x in truth(v))

        return _may_miss(test) if fetch.layer == LAYER_CONTENT else test, fetch.layer
    if method == "found" and not patterns and not files:  # no pattern: found or not
        match = _matcher(method, patterns, icase)

        def found(v: RequestView) -> bool:
            return any(map(match, get(v)))

        return _may_miss(found) if fetch.layer == LAYER_CONTENT else found, fetch.layer
    # the patterns live in references the runtime API may change
    # (patterns.py): each file's, then the line's own, as HAProxy orders them
    refs = [(PatternRef(f, name, read_file(f, method, ic, _matcher)), ic) for f, ic in files]
    _matcher(method, patterns, icase)  # the inline patterns' errors, now
    refs.append((PatternRef("", name, patterns), icase))
    exprs = [ref.expr(method, ic, _matcher) for ref, ic in refs]
    # one reference: the line's own, never shared; with files the list is
    # read at each evaluation, so that runtime/acls.py can point a file's
    # entry at the reference shared by every expression loading that file
    if len(exprs) == 1:
        one = exprs[0]

        def test(v: RequestView) -> bool:
            return any(map(one.match, get(v)))

    else:

        def test(v: RequestView) -> bool:
            values = get(v)
            return any(e.match(x) for e in exprs for x in values)

    final = _may_miss(test) if fetch.layer == LAYER_CONTENT else test
    final.pattern_exprs = exprs  # type: ignore[attr-defined]  (runtime/acls.py)
    return final, fetch.layer


def _may_miss(test: Test) -> Test:
    """An expression over request contents: no match while its fetch may
    still change is a MISS (``view.miss``), not a FAIL."""

    def content_test(v: RequestView) -> bool:
        if test(v):
            return True
        if v.change:  # set only on a view that is not final
            v.miss = True
        return False

    return content_test


def _negate(inner: Test, layer: int) -> Test:
    """``!inner`` (or ``unless``); over request contents a MISS stays a MISS
    (acl_neg), and a MISS of ``inner``'s own does not leak as a FAIL."""
    if layer != LAYER_CONTENT:
        return lambda v: not inner(v)

    def negate(v: RequestView) -> bool:
        if v.final:
            return not inner(v)
        before = v.miss
        v.miss = False
        if inner(v):
            v.miss = before
            return False
        if v.miss:
            return False  # undecided yet
        v.miss = before
        return True

    return negate


# configuration.txt §7.4 "Pre-defined ACLs"
_PREDEFINED_WORDS: dict[str, tuple[str, ...]] = {
    "HTTP_1.0": ("req.ver", "1.0"),
    "HTTP_1.1": ("req.ver", "1.1"),
    "HTTP_URL_ABS": ("url_reg", "^[^/:]*://"),
    "HTTP_URL_SLASH": ("url_beg", "/"),
    "HTTP_URL_STAR": ("url", "*"),
    "LOCALHOST": ("src", "127.0.0.1/8", "::1"),
    "METH_CONNECT": ("method", "CONNECT"),
    "METH_DELETE": ("method", "DELETE"),
    "METH_GET": ("method", "GET", "HEAD"),
    "METH_HEAD": ("method", "HEAD"),
    "METH_OPTIONS": ("method", "OPTIONS"),
    "METH_POST": ("method", "POST"),
    "METH_PUT": ("method", "PUT"),
    "METH_TRACE": ("method", "TRACE"),
}


def _content(v: RequestView) -> bool:
    for x in v.headers.get("content-length", ()):
        try:
            if int(x) > 0:
                return True
        except ValueError:
            pass
    return False


PREDEFINED: dict[str, tuple[Test, int]] = {
    "TRUE": ((lambda v: True), LAYER_TCP),
    "FALSE": ((lambda v: False), LAYER_TCP),
    "HTTP": ((lambda v: True), LAYER_HTTP),
    "HTTP_CONTENT": (_content, LAYER_HTTP),
    **{name: parse_expression(words) for name, words in _PREDEFINED_WORDS.items()},
    "RDP_COOKIE": parse_expression(("req.rdp_cookie_cnt", "gt", "0")),
}
_PREDEFINED_PENDING = ("REQ_CONTENT", "WAIT_END")


class _WordLexer(Lexer):
    """Words → tokens; inside braces every word but ``}`` is a WORD."""

    def __init__(self, conf: Any) -> None:
        pass

    def lex(self, words: Sequence[str]) -> Iterator[Token]:  # type: ignore[override]
        depth = 0
        for w in words:
            if depth:
                if w == "}":
                    depth = 0
                    yield Token("RBRACE", w)
                else:
                    yield Token("WORD", w)
                continue
            while w.startswith("!"):  # "!name", "!{" glue the negation
                yield Token("NOT", "!")
                w = w[1:]
            if w == "{":
                depth = 1
                yield Token("LBRACE", w)
            elif w in ("||", "or"):
                yield Token("OR", w)
            elif w:
                yield Token("WORD", w)
        if depth:
            raise AclError("missing closing '}' in condition.")


_PARSER = Lark(
    (Path(__file__).with_name("condition.lark")).read_text(),
    parser="lalr",
    lexer=_WordLexer,
)


def compile_condition(
    words: Sequence[str], acls: Mapping[str, Sequence[tuple[Test, int]]]
) -> Condition:
    """``if|unless <condition>`` → Condition.  ``acls``: named ACLs, each a
    list of expressions (several ``acl`` lines with one name OR together)."""
    if not words or words[0] not in ("if", "unless"):
        raise AclError("expects 'if' or 'unless' followed by a condition.")
    try:
        tree = _PARSER.parse(list(words[1:]))  # type: ignore[arg-type]
    except AclError:
        raise
    except LarkError as exc:
        cause = getattr(exc, "orig_exc", None)
        if isinstance(cause, AclError):
            raise cause from None
        raise AclError(f"syntax error in condition '{' '.join(words[1:])}'.") from None
    found: list[list[PatternExpr]] = []
    test, layer = _build(tree.children[0], acls, found)
    if words[0] == "unless":
        test = _negate(test, layer)
    return Condition(test, layer, found)


def _build(
    node: Tree | Token,
    acls: Mapping[str, Sequence[tuple[Test, int]]],
    found: list[list[PatternExpr]],
) -> tuple[Test, int]:
    kind = node.data  # type: ignore[union-attr]
    kids = node.children  # type: ignore[union-attr]
    if kind == "named":
        name = str(kids[0])
        if name in acls:
            exprs = list(acls[name])
        elif name in PREDEFINED:
            exprs = [PREDEFINED[name]]
        elif name in _PREDEFINED_PENDING:
            raise AclPending(f"predefined ACL '{name}'")
        else:
            raise AclError(f"no such ACL : '{name}'.")
        layer = max(layer for _, layer in exprs)
        if len(exprs) == 1:
            return exprs[0][0], layer
        tests = [t for t, _ in exprs]
        return (lambda v: any(t(v) for t in tests)), layer
    if kind == "anonymous":
        test, layer = parse_expression([str(w) for w in kids[1:-1]])
        exprs = getattr(test, "pattern_exprs", None)
        if exprs is not None:
            found.append(exprs)
        return test, layer
    if kind == "negate":
        inner, layer = _build(kids[1], acls, found)
        return _negate(inner, layer), layer
    parts = [_build(k, acls, found) for k in kids if not (isinstance(k, Token) and k.type == "OR")]
    tests = [t for t, _ in parts]
    layer = max(layer for _, layer in parts)
    if kind == "and_expr":
        if len(tests) == 2:
            a, b = tests
            return (lambda v: a(v) and b(v)), layer
        return (lambda v: all(t(v) for t in tests)), layer
    if kind == "or_expr":
        if len(tests) == 2:
            a, b = tests
            return (lambda v: a(v) or b(v)), layer
        return (lambda v: any(t(v) for t in tests)), layer
    raise AssertionError(f"unexpected node {kind}")  # grammar and builder disagree
