"""Configuration reader (configuration.txt §2): files to lines of words.

Turns ``-f`` arguments (files, or directories contributing their ``*.cfg``
files in lexical order) into ``Line`` objects, each knowing its file and
number.  It applies quoting, escaping, ``$VAR`` / ``${VAR}`` /
``${VAR-default}`` / ``${VAR[*]}`` expansion inside double quotes, the
``.if/.elif/.else/.endif`` blocks and the ``.notice/.warning/.alert/.diag``
directives.  It knows nothing of keywords beyond the names that open a
section (needed for the ``.SECTION`` pseudo-variable).

Invariant: problems are reported through the ``Reporter`` and never raised;
a line that cannot be split is dropped after its alert.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedInput

from pyhaproxy.config import conditions
from pyhaproxy.messages import Reporter, Where

_GRAMMAR = (Path(__file__).with_name("grammar.lark")).read_text()
_LINE_PARSER = Lark(_GRAMMAR, start="line", parser="lalr", maybe_placeholders=False)

_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Line:
    """One configuration statement: its words and where it was written."""

    where: Where
    words: tuple[str, ...]
    raw: str = ""


class Severity:
    """How bad a reader error is: FATAL lets parsing go on, ABORT stops it."""

    FATAL = 1
    ABORT = 2


class ReadError(Exception):
    """``pos`` (0-based, in the part being read) asks for HAProxy's
    ``at position N:`` suffix showing the line with a caret."""

    def __init__(self, message: str, severity: int = Severity.FATAL, pos: int | None = None):
        super().__init__(message)
        self.severity = severity
        self.pos = pos


def _positioned(message: str, text: str, pos: int) -> str:
    """``message at position N:`` + the line + a caret, as HAProxy shows it."""
    shown = text.lstrip(" \t")
    caret = " " * max(pos - (len(text) - len(shown)), 0) + "^"
    return f"{message} at position {pos + 1}:\n  {shown}\n  {caret}"


def _unescape(text: str) -> str:
    """Resolve the backslash escapes of §2.2 (``\\xNN``, ``\\n``, ``\\X``)."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "x" and i + 3 < n + 0 and _is_hex(text[i + 2 : i + 4]):
            out.append(chr(int(text[i + 2 : i + 4], 16)))
            i += 4
        elif nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt in " \t#\\'\"$":
            out.append(nxt)
            i += 2
        else:
            # An unknown escape keeps its backslash, as HAProxy does.
            out.append(c)
            i += 1
    return "".join(out)


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in s)


def _var_name_end(text: str, start: int) -> int:
    """End of a variable name starting at ``start`` (letters, digits, '_', or
    a leading '.' for the pseudo-variables)."""
    i = start
    if i < len(text) and text[i] == ".":
        i += 1
    while i < len(text) and ((text[i].isascii() and text[i].isalnum()) or text[i] == "_"):
        i += 1
    return i


class _Expander:
    """Environment expansion inside double quotes (configuration.txt §2.3)."""

    def __init__(self, env: Mapping[str, str], pseudo: Mapping[str, str]) -> None:
        self.env = env
        self.pseudo = pseudo

    def lookup(self, name: str) -> str | None:
        if name.startswith("."):
            return self.pseudo.get(name)
        return self.env.get(name)

    def expand(self, body: str) -> list[str]:
        """Expand the inside of a "..." part; returns the pieces, split
        where a ``${VAR[*]}`` produced several words (>1 element).

        Raises ``ReadError`` with ``pos`` an index into ``body``."""
        pieces: list[list[str]] = [[]]
        i, n = 0, len(body)
        while i < n:
            c = body[i]
            if c == "\\" and i + 1 < n:
                if body[i + 1] == "x" and not _is_hex(body[i + 2 : i + 4]):
                    raise ReadError("truncated or invalid hexadecimal sequence", pos=i)
                j = i + 4 if body[i + 1] == "x" else i + 2
                pieces[-1].append(_unescape(body[i:j]))
                i = j
                continue
            if c != "$":
                pieces[-1].append(c)
                i += 1
                continue
            braced = i + 1 < n and body[i + 1] == "{"
            start = i + 2 if braced else i + 1
            first = body[start] if start < n else ""
            if not first or not ((first.isascii() and first.isalpha()) or first in "_."):
                raise ReadError("forbidden first char in environment variable name", pos=start)
            end = _var_name_end(body, start)
            name = body[start:end]
            value = self.lookup(name)
            if not braced:
                pieces[-1].append(value or "")
                i = end
                continue
            split = body.startswith("[*]", end)
            if split:
                end += 3
            if body.startswith("-", end):
                close = body.find("}", end)
                if close < 0:
                    raise ReadError("unmatched brace in environment variable name", pos=i + 1)
                if value is None:
                    value = body[end + 1 : close]
                end = close
            if not body.startswith("}", end):
                raise ReadError("unmatched brace in environment variable name", pos=i + 1)
            i = end + 1
            value = value or ""
            if split:
                words = value.split()
                if words:
                    pieces[-1].append(words[0])
                    for w in words[1:]:
                        pieces.append([w])
            else:
                pieces[-1].append(value)
        return ["".join(p) for p in pieces]


def split_line(text: str, env: Mapping[str, str], pseudo: Mapping[str, str]) -> list[str]:
    """Split one line into words (configuration.txt §2.1-§2.3).

    Raises ``ReadError`` with HAProxy's wording for an unmatched quote.
    """
    try:
        tree = _LINE_PARSER.parse(text)
    except UnexpectedInput as exc:
        pos = exc.pos_in_stream if exc.pos_in_stream is not None else 0
        raise ReadError(_positioned("unmatched quote", text, pos)) from None
    expander = _Expander(env, pseudo)
    words: list[str] = []
    for word in tree.children:
        if isinstance(word, Token):  # the comment
            continue
        cur: list[str] = []
        for seg in word.children:
            kind, val = seg.type, str(seg)
            if kind == "SQUOTED":
                cur.append(val[1:-1])
            elif kind == "DQUOTED":
                try:
                    parts = expander.expand(val[1:-1])
                except ReadError as exc:
                    pos = (seg.start_pos or 0) + 1 + (exc.pos or 0)
                    raise ReadError(_positioned(str(exc), text, pos), exc.severity) from None
                cur.append(parts[0])
                for extra in parts[1:]:
                    words.append("".join(cur))
                    cur = [extra]
            elif kind == "ESCAPE":
                if val == "\\x":  # \x without two hexadecimal digits
                    message = "truncated or invalid hexadecimal sequence"
                    raise ReadError(_positioned(message, text, seg.start_pos or 0))
                cur.append(_unescape(val))
            else:
                cur.append(val)
        words.append("".join(cur))
    return words


@dataclass(slots=True)
class _Block:
    """One level of `.if` nesting."""

    where: Where
    active: bool  # lines of the current branch are taken
    taken: bool  # some branch of this block was already taken
    parent_active: bool
    seen_else: bool = False


def config_files(paths: Iterable[str], reporter: Reporter) -> list[str] | None:
    """Expand ``-f`` arguments: files as given, directories to their ``*.cfg``
    files in lexical order.  Returns None after an alert if one is unreadable."""
    files: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            try:
                names = sorted(os.listdir(p))
            except OSError as exc:
                reporter.alert(f"Cannot open configuration file/directory {p} : {exc.strerror}")
                return None
            for name in names:
                full = os.path.join(p, name)
                if name.endswith(".cfg") and os.path.isfile(full):
                    files.append(full)
        elif os.path.exists(p):
            files.append(p)
        else:
            reporter.alert(
                f"Cannot open configuration file/directory {p} : No such file or directory"
            )
            return None
    return files


class Reader:
    """Reads configuration files into ``Line`` objects.

    ``section_names`` are the keywords that open a section; ``errors`` counts
    FATAL read errors per file and ``aborted`` is set by an ABORT error (after
    which nothing more is read), mirroring HAProxy's ERR_FATAL / ERR_ABORT.
    """

    def __init__(
        self,
        reporter: Reporter,
        section_names: Iterable[str],
        env: Mapping[str, str] | None = None,
        diag: bool = False,
    ) -> None:
        self.reporter = reporter
        self.section_names = frozenset(section_names)
        self.env = os.environ if env is None else env
        self.diag = diag
        self.errors: dict[str, int] = {}
        self.aborted = False

    def _fail(self, where: Where, message: str, severity: int = Severity.FATAL) -> None:
        self.reporter.alert(f"parsing [{where}]: {message}")
        self.errors[where.file] = self.errors.get(where.file, 0) + 1
        if severity == Severity.ABORT:
            self.aborted = True

    def read_file(self, path: str) -> Iterator[Line]:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            self.reporter.alert(f"Cannot open configuration file/directory {path} : {exc.strerror}")
            self.aborted = True
            return
        text = data.decode("utf-8", errors="surrogateescape")
        section = ""
        blocks: list[_Block] = []
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()  # the file ends with LF, as it should
        for lineno, raw in enumerate(lines, start=1):
            if self.aborted:
                return
            where = Where(path, lineno)
            if "\0" in raw:
                self._fail(
                    where,
                    f"Stray NUL character at position {raw.index(chr(0)) + 1}.",
                    Severity.ABORT,
                )
                return
            if raw.endswith("\r"):
                raw = raw[:-1]
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            pseudo = {".FILE": path, ".LINE": str(lineno), ".SECTION": section}
            try:
                words = split_line(raw, self.env, pseudo)
            except ReadError as exc:
                self._fail(where, str(exc), exc.severity)
                continue
            if not words:
                continue
            head = words[0]
            if head in (".if", ".elif", ".else", ".endif"):
                self._conditional(where, head, words, blocks, raw)
                continue
            if blocks and not blocks[-1].active:
                continue
            if head in (".notice", ".warning", ".alert", ".diag"):
                self._directive(where, head, words)
                continue
            if head in self.section_names:
                section = words[1] if len(words) > 1 and head != "global" else head
            yield Line(where, tuple(words), raw)
        if lines and not text.endswith("\n") and not self.aborted:
            # HAProxy parses the last line, then refuses a file cut short
            self._fail(
                Where(path, len(lines)),
                "Missing LF on last line, file might have been truncated at position "
                f"{len(lines[-1]) + 1}.",
            )
        if blocks and not self.aborted:
            # HAProxy names the last line read, not the '.if' itself.
            self._fail(Where(path, len(lines)), "non-terminated '.if' block.", Severity.ABORT)

    def _directive(self, where: Where, head: str, words: list[str]) -> None:
        if len(words) > 2:
            self._fail(
                where,
                f"Unexpected argument '{words[2]}' for '{head}'. "
                "Use quotes if the message should contain spaces.",
            )
            return
        message = f"parsing [{where}]: '{words[1] if len(words) > 1 else ''}'."
        if head == ".notice":
            self.reporter.notice(message)
        elif head == ".warning":
            self.reporter.warning(message)
        elif head == ".diag":
            if self.diag:
                self.reporter.warning(message)
        else:
            self.reporter.alert(message)
            self.errors[where.file] = self.errors.get(where.file, 0) + 1
            self.aborted = True

    def _conditional(
        self, where: Where, head: str, words: list[str], blocks: list[_Block], raw: str
    ) -> None:
        if head == ".if":
            outer = not blocks or blocks[-1].active
            value = outer and self._evaluate(where, head, words, raw)
            blocks.append(_Block(where, active=value, taken=value, parent_active=outer))
            return
        if not blocks:
            self._fail(where, f"lone '{head}' with no matching '.if'.", Severity.ABORT)
            return
        block = blocks[-1]
        if head == ".endif":
            blocks.pop()
            return
        if block.seen_else:
            self._fail(where, f"'{head}' after '.else' is not permitted.", Severity.ABORT)
            return
        if head == ".else":
            block.seen_else = True
            block.active = block.parent_active and not block.taken
            block.taken = True
            return
        # .elif: only evaluated when no earlier branch was taken
        if block.taken or not block.parent_active:
            block.active = False
            return
        block.active = self._evaluate(where, head, words, raw)
        block.taken = block.active

    def _evaluate(self, where: Where, head: str, words: list[str], raw: str) -> bool:
        text = " ".join(words[1:])
        try:
            return conditions.evaluate(text, self.env)
        except conditions.ConditionError as exc:
            self._fail(
                where,
                f"{exc.message} in '{head}' at position {exc.position + 1}:\n"
                f"  {head} {text}\n  {' ' * (len(head) + 1 + exc.position)}^",
                Severity.ABORT,
            )
            return False

    def read(self, paths: Iterable[str]) -> Iterator[Line]:
        """Lines of every file, in order; stops after an ABORT error."""
        for path in paths:
            if self.aborted:
                return
            yield from self.read_file(path)
