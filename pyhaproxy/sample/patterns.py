"""Pattern references: the pattern lists of ACL expressions that the runtime
API changes (configuration.txt §7.1 "-f <file>"; management.txt §9.3 "add
acl", "del acl", "clear acl", "prepare acl", "commit acl", "show acl",
"get acl"), HAProxy's ``pat_ref`` / ``pattern_expr``.

A ``PatternRef`` holds entries, each with the version (generation) it
belongs to: the current version is the one matched; ``prepare`` opens a next
one, filled by ``add acl @<ver>``, which ``commit`` makes current (dropping
the older entries).  An ACL expression reads one ``PatternExpr`` per
reference it uses (a ``-f`` file, and its own inline patterns), each
compiled once per change into ``match`` -- the only thing the data plane
reads, one attribute per evaluation.

Invariant: only ``PatternRef`` methods change entries, and each change
recompiles the ref's expressions before it returns, so a request sees the
old or the new patterns, never a mix.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

SEQ = count()  # creation order of references (HAProxy's unique ids follow it)


class Entry:
    """One pattern of a reference; its identity is its ``#<ref>``."""

    __slots__ = ("text", "gen")

    def __init__(self, text: str, gen: int) -> None:
        self.text = text
        self.gen = gen


class PatternRef:
    """A list of patterns: a ``-f`` file's (``file`` set) or one expression's
    inline patterns.  ``fetch``/``where``: the expression that made it (for
    ``show acl``); ``users``: where each expression using it is."""

    __slots__ = (
        "seq",
        "file",
        "fetch",
        "where",
        "users",
        "entries",
        "exprs",
        "curr",
        "next",
        "count",
    )

    def __init__(self, file: str, fetch: str, patterns: list[str]) -> None:
        self.seq = next(SEQ)
        self.file = file
        self.fetch = fetch
        self.where: Any = None
        self.users: list[Any] = []
        self.entries = [Entry(p, 0) for p in patterns]
        self.exprs: list[PatternExpr] = []
        self.curr = self.next = 0
        # HAProxy's entry_cnt, kept as it counts: entries once per
        # expression reading them, one less after a refused "add"
        self.count = 0

    def patterns(self, gen: int | None = None) -> list[Entry]:
        g = self.curr if gen is None else gen
        return [e for e in self.entries if e.gen == g]

    def check(self, text: str) -> None:
        """Raise the matcher's error (AclError) if ``text`` is not a valid
        pattern for every expression using this reference."""
        for expr in self.exprs:
            expr.compile([text])

    def add(self, text: str, gen: int | None = None) -> None:
        try:
            self.check(text)
        except Exception:
            self.count -= 1
            raise
        self.entries.append(Entry(text, self.curr if gen is None else gen))
        self.count += len(self.exprs)
        self.refresh()

    def _keep(self, kept: list[Entry]) -> None:
        self.count -= len(self.entries) - len(kept)
        self.entries = kept
        self.refresh()

    def delete(self, entries: list[Entry]) -> None:
        drop = {id(e) for e in entries}
        self._keep([e for e in self.entries if id(e) not in drop])

    def clear(self, gen: int | None = None) -> None:
        g = self.curr if gen is None else gen
        self._keep([e for e in self.entries if e.gen != g])

    def prepare(self) -> int:
        self.next += 1
        return self.next

    def commit(self, gen: int) -> None:
        """``gen`` becomes current; entries of older versions go."""
        self.curr = gen
        self._keep([e for e in self.entries if (e.gen - gen) & 0xFFFFFFFF < 1 << 31])

    def refresh(self) -> None:
        for expr in self.exprs:
            expr.refresh()

    def expr(self, method: str, icase: bool, compile_: Callable[..., Any]) -> PatternExpr:
        """The expression reading this reference with these flags (shared,
        as HAProxy shares a pattern_expr)."""
        for e in self.exprs:
            if e.method == method and e.icase == icase:
                return e
        e = PatternExpr(self, method, icase, compile_)
        self.exprs.append(e)
        self.count += len(self.entries)
        e.refresh()
        return e


class PatternExpr:
    """A reference compiled for one matching method and case: ``match(x)``."""

    __slots__ = ("ref", "method", "icase", "_compile", "match")

    def __init__(
        self, ref: PatternRef, method: str, icase: bool, compile_: Callable[..., Any]
    ) -> None:
        self.ref = ref
        self.method = method
        self.icase = icase
        self._compile = compile_
        self.match: Callable[[Any], bool] = _nothing

    def compile(self, patterns: list[str]) -> Callable[[Any], bool]:
        return self._compile(self.method, patterns, self.icase)

    def refresh(self) -> None:
        pats = [e.text for e in self.ref.patterns()]
        self.match = self.compile(pats) if pats else _nothing


def _nothing(x: Any) -> bool:
    return False


def read_file(path: str, method: str, icase: bool, compile_: Callable[..., Any]) -> list[str]:
    """The patterns of a ``-f`` file (HAProxy's pat_ref_read_from_file):
    one per line, leading blanks skipped, empty lines and ``#`` comments
    ignored; each checked, an error naming its line (AclError)."""
    from pyhaproxy.sample.acl import AclError

    try:
        with open(path, encoding="latin-1") as fh:
            lines = fh.read().split("\n")
    except OSError:
        raise AclError(f"failed to open pattern file <{path}>.") from None
    out = []
    for n, line in enumerate(lines, 1):
        text = line.rstrip("\r").lstrip(" \t")
        if not text or text.startswith("#"):
            continue
        try:
            compile_(method, [text], icase)
        except AclError as exc:
            msg = exc.message.rstrip(".")
            raise AclError(f"{msg} at line {n} of file '{path}'.") from None
        out.append(text)
    return out
