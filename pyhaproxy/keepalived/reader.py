"""keepalived.conf reader: files to a tree of statements that know file:line.

``include PATTERN`` (glob, relative to the including file's directory) may
appear at any level and splices the statements of the matched files, in
lexical order, in its place.  keepalived.conf(5): "include FILENAME".

Invariant: problems are collected in ``Diagnostics`` and never raised; a file
that cannot be parsed contributes no statements.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

_GRAMMAR = Path(__file__).with_name("keepalived.lark").read_text()
_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)
_MAX_INCLUDE_DEPTH = 16

# Severities, mapping onto keepalived's --config-test verdicts.
WARNING = "warning"  # reported, configuration unchanged
ERROR = "error"  # reported; the keyword or block is dropped, keepalived still runs
FATAL = "fatal"  # the configuration cannot run


@dataclass(frozen=True, slots=True)
class Where:
    """A position in the configuration: file name and 1-based line number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"({self.file}: Line {self.line})"


@dataclass(frozen=True, slots=True)
class Stmt:
    """One statement: its words and, when it opens one, the block's statements."""

    where: Where
    words: tuple[str, ...]
    block: tuple[Stmt, ...] | None = None

    @property
    def keyword(self) -> str:
        return self.words[0] if self.words else ""

    @property
    def args(self) -> tuple[str, ...]:
        return self.words[1:]


@dataclass(slots=True)
class Diagnostic:
    severity: str
    where: Where | None
    text: str

    def __str__(self) -> str:
        return f"{self.where} {self.text}" if self.where else self.text


@dataclass(slots=True)
class Diagnostics:
    """Messages about a configuration, in keepalived's ``(FILE: Line N) text`` shape."""

    items: list[Diagnostic] = field(default_factory=list)
    security_violation: bool = False

    def add(self, severity: str, where: Where | None, text: str) -> None:
        self.items.append(Diagnostic(severity, where, text))

    def warning(self, where: Where | None, text: str) -> None:
        self.add(WARNING, where, text)

    def error(self, where: Where | None, text: str) -> None:
        self.add(ERROR, where, text)

    def fatal(self, where: Where | None, text: str) -> None:
        self.add(FATAL, where, text)

    def count(self, severity: str) -> int:
        return sum(1 for d in self.items if d.severity == severity)


def read_config(path: str, diags: Diagnostics) -> list[Stmt]:
    """Read ``path`` and its includes into top-level statements."""
    if not os.path.isfile(path):
        diags.fatal(None, f"Config files missing '{path}'.")
        return []
    return _read_file(path, diags, depth=0)


def parse_text(text: str, name: str, diags: Diagnostics, base: str = ".") -> list[Stmt]:
    """Parse configuration text (``name`` is used in messages)."""
    return _expand(_parse(text, name, diags), base, diags, depth=0)


def _read_file(path: str, diags: Diagnostics, depth: int) -> list[Stmt]:
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        diags.fatal(None, f"Unable to read config file '{path}': {exc}")
        return []
    return _expand(_parse(text, path, diags), os.path.dirname(path) or ".", diags, depth)


def _parse(text: str, name: str, diags: Diagnostics) -> list[Stmt]:
    if not text.endswith("\n"):
        text += "\n"
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        got = getattr(exc, "token", None)
        what = f"unexpected '{got}'" if got not in (None, "") else "unexpected end of file"
        if got is not None and getattr(got, "type", "") == "$END":
            what = "missing '}' before end of file"
        diags.fatal(Where(name, exc.line if exc.line > 0 else 1), f"syntax error: {what}")
        return []
    return [_stmt(child, name) for child in tree.children if isinstance(child, Tree)]


def _stmt(tree: Tree, name: str) -> Stmt:
    words: list[str] = []
    block: tuple[Stmt, ...] | None = None
    line = 0
    for child in tree.children:
        if isinstance(child, Token):
            line = line or child.line
            text = str(child)
            words.append(text[1:-1] if child.type == "STRING" else text)
        else:
            block = tuple(_stmt(c, name) for c in child.children if isinstance(c, Tree))
            line = line or (child.meta.line if not child.meta.empty else 0)
    return Stmt(Where(name, line or 1), tuple(words), block)


def _expand(stmts: list[Stmt], base: str, diags: Diagnostics, depth: int) -> list[Stmt]:
    out: list[Stmt] = []
    for st in stmts:
        if st.keyword == "include" and st.block is None:
            out.extend(_include(st, base, diags, depth))
            continue
        if st.block is not None:
            st = Stmt(st.where, st.words, tuple(_expand(list(st.block), base, diags, depth)))
        out.append(st)
    return out


def _include(st: Stmt, base: str, diags: Diagnostics, depth: int) -> list[Stmt]:
    if len(st.args) != 1:
        diags.error(st.where, "'include' expects exactly one file name or pattern")
        return []
    if depth >= _MAX_INCLUDE_DEPTH:
        diags.fatal(st.where, f"include nesting too deep at '{st.args[0]}'")
        return []
    pattern = st.args[0]
    if not os.path.isabs(pattern):
        pattern = os.path.join(base, pattern)
    files = sorted(glob.glob(pattern))
    if not files:
        diags.error(st.where, f"Config files missing '{st.args[0]}'.")
        return []
    out: list[Stmt] = []
    for f in files:
        out.extend(_read_file(f, diags, depth + 1))
    return out
