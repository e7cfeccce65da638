"""Line splitting, quoting, environment and conditional blocks (§2.1-§2.4)."""

from __future__ import annotations

import io

import pytest

from pyhaproxy.config import conditions
from pyhaproxy.config.reader import Reader, ReadError, split_line
from pyhaproxy.messages import Reporter

ENV = {"FOO": "a b", "BAR": "x", "EMPTY": ""}


@pytest.mark.parametrize(
    "line, words",
    [
        ("  option  httplog  ", ["option", "httplog"]),
        ("global#comment", ["global"]),
        (r"log-format %{+Q}o\ %t\ %s", ["log-format", "%{+Q}o %t %s"]),
        ("""log-format "%{+Q}o %t"' %s'\\ %{-Q}r""", ["log-format", "%{+Q}o %t %s %{-Q}r"]),
        ("x '$BAR' $BAR \"$BAR\"", ["x", "$BAR", "$BAR", "x"]),
        ('x "${FOO}" "${NOPE-d e}" "${EMPTY-dflt}"', ["x", "a b", "d e", ""]),
        ('x "${FOO[*]}" y', ["x", "a", "b", "y"]),
        (r"x \x41\#\\ \"", ["x", "A#\\", '"']),
        ('x "" y', ["x", "", "y"]),
        ("x 'a#b' \"c#d\"", ["x", "a#b", "c#d"]),
        ('x "\\$BAR"', ["x", "$BAR"]),
    ],
)
def test_split_line(line, words):
    assert split_line(line, ENV, {}) == words


def test_pseudo_variables():
    assert split_line('x "${.LINE}" "$.FILE"', {}, {".LINE": "7", ".FILE": "f"}) == ["x", "7", "f"]


@pytest.mark.parametrize("line, pos", [('  option "abc', 10), ("a 'b", 3)])
def test_unmatched_quote(line, pos):
    with pytest.raises(ReadError, match=f"unmatched quote at position {pos}:"):
        split_line(line, {}, {})


@pytest.mark.parametrize(
    "expr, value",
    [
        ("", False),
        ("0", False),
        ("1", True),
        ("-3", True),
        ("1 && 0 || 1", True),
        ("1 && (0 || 0)", False),
        ("!0", True),
        ("!!1", True),
        ("defined(FOO)", True),
        ("defined(NOPE)", False),
        ("streq(a,a)", True),
        ("strneq(a,a)", False),
        ("streq(\"a,b\",'a,b')", True),
        ("version_atleast(2.4-dev19)", True),
        ("version_atleast(2.6.12)", True),
        ("version_before(2.6)", False),
        ("version_before(2.7-dev1)", True),
        ("openssl_version_atleast(1.0.0)", True),
        ("openssl_version_before(1.0.0)", False),
        ("ssllib_name_startswith(OpenSSL)", True),
    ],
)
def test_conditions(expr, value):
    assert conditions.evaluate(expr, ENV) is value


@pytest.mark.parametrize(
    "expr", ["foo(1)", "1 2", "streq(a)", "(1", "yes", "1 &&", "version_atleast(x)"]
)
def test_bad_conditions(expr):
    with pytest.raises(conditions.ConditionError):
        conditions.evaluate(expr, ENV)


def _read(tmp_path, text, env=None):
    path = tmp_path / "t.cfg"
    path.write_text(text)
    out = io.StringIO()
    reader = Reader(Reporter(stream=out), ["global", "listen"], env or {})
    lines = [(ln.where.line, ln.words) for ln in reader.read([str(path)])]
    return lines, out.getvalue(), reader


def test_conditional_blocks_select_lines(tmp_path):
    text = """global
.if 0
  a
.elif 1
  b
  .if 0
    c
  .else
    d
  .endif
.elif 1
  e
.else
  f
.endif
  g
"""
    lines, _, reader = _read(tmp_path, text)
    assert [w[0] for _, w in lines] == ["global", "b", "d", "g"]
    assert not reader.errors


def test_elif_not_evaluated_after_taken_branch(tmp_path):
    lines, out, reader = _read(tmp_path, ".if 1\n.elif foo(\n.endif\nglobal\n")
    assert not reader.errors and [w for _, w in lines] == [("global",)]


def test_non_terminated_if_aborts(tmp_path):
    _, out, reader = _read(tmp_path, "global\n.if 1\n x\n")
    # HAProxy 2.6 cites the last line of the file, not the '.if'
    assert "parsing [" in out and ":3]: non-terminated '.if' block." in out
    assert reader.aborted


def test_else_after_else(tmp_path):
    _, out, reader = _read(tmp_path, ".if 1\n.else\n.else\n.endif\n")
    assert ":3]: '.else' after '.else' is not permitted." in out and reader.aborted


def test_directives(tmp_path):
    lines, out, reader = _read(
        tmp_path, '.notice "n1"\n.warning w\n.diag d\n.alert "stop"\nglobal\n'
    )
    assert "[NOTICE]" in out and ":1]: 'n1'." in out
    assert "[WARNING]" in out and ":2]: 'w'." in out
    assert "'d'" not in out  # .diag only with -dD
    assert ":4]: 'stop'." in out and reader.aborted and lines == []


def test_line_numbers_survive_comments_and_blanks(tmp_path):
    lines, _, _ = _read(tmp_path, "# c\n\nglobal\n   # x\n  maxconn 1 # y\n")
    assert lines == [(3, ("global",)), (5, ("maxconn", "1"))]
