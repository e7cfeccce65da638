"""ACL commands (management.txt §9.3): ``show acl [[@<ver>] <acl>]``, ``get acl
<acl> <value>``, ``add acl [@<ver>] <acl> <pattern>``, ``del acl <acl>
[<key>|#<ref>]``, ``clear acl [@<ver>] <acl>``, ``prepare acl <acl>``,
``commit acl @<ver> <acl>``.

``<acl>`` is a pattern reference (``sample/patterns.py``): ``#<id>`` or a
``-f`` file name.  As HAProxy, every ACL expression has a reference for
its own patterns, and each pattern file one reference shared by every
expression that loads it; ids number them in the order the configuration
created them.  A change applies to running traffic at once (the expressions'
``match`` is recompiled).  Texts are HAProxy 2.6's, its ``Unknown map
identifier`` of ``del acl`` included; every ACL command is allowed at the
``user`` level, as in HAProxy 2.6.

Not the same as HAProxy: ``show acl`` does not list the two references of
HAProxy's internal ``httpclient`` proxy, which pyhaproxy does not have.
(``entry_cnt`` counts as HAProxy 2.6 does: entries once per expression
reading them, one less after a refused ``add``, wrapping below zero.)
``get acl`` reports the first matching pattern
(the longest one for ``ip`` and ``beg``), which is what HAProxy's trees find.
The anonymous ACLs of ``stats admin`` conditions are not listed (their
rules keep no position to describe them): they cannot be changed here.

Map commands (``show map``...) need the ``map`` converters, which pyhaproxy
does not have yet (notyet.py).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from pyhaproxy.runtime.commands import command
from pyhaproxy.sample.acl import AclError, Condition
from pyhaproxy.sample.patterns import PatternExpr, PatternRef

if TYPE_CHECKING:
    from pyhaproxy.runtime.cli import CliSession
    from pyhaproxy.runtime.server import CliServer

UNKNOWN = "Unknown ACL identifier. Please use #<id> or <file>.\n"
# tree-indexed lookups in HAProxy (pattern.c): the others walk a list
_TREE = {("ip", False), ("ip", True), ("str", False), ("beg", False)}


def _uint(text: str) -> int:
    """HAProxy's ``str2uic``: leading digits, else 0, as unsigned 32 bits."""
    n = 0
    while n < len(text) and text[n].isdigit():
        n += 1
    return int(text[:n]) & 0xFFFFFFFF if n else 0


def _expressions(cli: CliServer) -> list[tuple[Any, list[PatternExpr]]]:
    """(where, pattern expressions) of every ACL expression of the
    configuration: ``acl`` lines and anonymous ACLs of conditions."""
    out: list[tuple[Any, list[PatternExpr]]] = []
    seen: set[int] = set()

    def add(where: Any, exprs: list[PatternExpr] | None) -> None:
        if exprs is not None and id(exprs) not in seen:
            seen.add(id(exprs))
            out.append((where, exprs))

    for px in cli.config.proxies:
        for acl in px.settings.acls:
            if acl.compiled:
                add(acl.where, getattr(acl.compiled[0], "pattern_exprs", None))
        for rule in [*px.settings.rules, *px.switching_rules]:
            cond = rule.compiled
            if isinstance(cond, Condition):
                for exprs in cond.exprs:
                    add(rule.where, exprs)
    return out


def references(cli: CliServer) -> list[PatternRef]:
    """The configuration's references, by id (built once: the references
    of one file, read by each expression that loads it, are merged into
    the first, as HAProxy shares them)."""
    if cli.acl_refs is not None:
        return cli.acl_refs
    by_file: dict[str, PatternRef] = {}
    refs: list[PatternRef] = []
    items = _expressions(cli)
    for _where, exprs in items:
        for e in exprs:
            if e.ref.file:
                first = by_file.get(e.ref.file)
                if first is None or e.ref.seq < first.seq:
                    by_file[e.ref.file] = e.ref
    for where, exprs in items:
        for i, e in enumerate(exprs):
            ref = e.ref
            if ref.file and by_file[ref.file] is not ref:
                # a list with a file is read at each evaluation (sample/acl.py)
                assert len(exprs) > 1, "a file's expression has its own reference too"
                ref = by_file[ref.file]
                exprs[i] = ref.expr(e.method, e.icase, e._compile)
            if ref.where is None:
                ref.where = where
                refs.append(ref)
            ref.users.append(where)
    refs.sort(key=lambda r: r.seq)
    cli.acl_refs = refs
    return refs


def lookup(cli: CliServer, name: str) -> PatternRef | None:
    """``#<id>`` or a file name (HAProxy's pat_ref_lookup_ref)."""
    refs = references(cli)
    if name.startswith("#"):
        digits = name[1:]
        if digits.isdigit() and int(digits) < len(refs):
            return refs[int(digits)]
        return None
    return next((r for r in refs if r.file and r.file == name), None)


def _describe(ref: PatternRef) -> str:
    if ref.file:
        users = ", ".join(f"by acl at file '{w.file}' line {w.line}" for w in ref.users)
        return f"pattern loaded from file '{ref.file}' used {users}"
    w = ref.where
    return f"acl '{ref.fetch}' file '{w.file}' line {w.line}"


def _arg(args: list[str], i: int) -> str:
    return args[i] if i < len(args) else ""


def _versioned(args: list[str], at: int) -> tuple[int | None, int]:
    """An optional ``@<ver>`` at ``args[at]``: (version or None, next index)."""
    word = _arg(args, at)
    if word.startswith("@"):
        return _uint(word[1:]), at + 1
    return None, at


def _out_of_range(ref: PatternRef, gen: int) -> bool:
    """``commit``: ``gen`` outside [curr, next] (HAProxy's unsigned test)."""
    return (gen - ref.curr) & 0xFFFFFFFF > (ref.next - ref.curr) & 0xFFFFFFFF


def _future(ref: PatternRef, gen: int) -> bool:
    """``add``: ``gen`` after ``next`` (an older version is accepted)."""
    return 0 < (gen - ref.next) & 0xFFFFFFFF < 1 << 31


@command(
    "show acl",
    "show acl [@<ver>] <acl>]",
    "report available acls or dump an acl's contents",
)
def _show_acl(sess: CliSession, args: list[str], payload: str | None) -> str:
    cli = sess.server
    gen, at = _versioned(args, 2)
    name = _arg(args, at)
    if not name:
        out = ["# id (file) description\n"]
        for i, ref in enumerate(references(cli)):
            out.append(
                f"{i} ({ref.file}) {_describe(ref)}. curr_ver={ref.curr} next_ver={ref.next} "
                f"entry_cnt={ref.count & 0xFFFFFFFFFFFFFFFF}\n"
            )
        return "".join(out)
    ref = lookup(cli, name)
    if ref is None:
        return UNKNOWN
    return "".join(f"0x{id(e):x} {e.text}\n" for e in ref.patterns(gen))


def _sample(method: str, value: str) -> Any:
    if method == "ip":
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            return None
    return value


def _best(expr: PatternExpr, sample: Any) -> str | None:
    """The pattern ``sample`` matches in ``expr`` (see the module doc)."""
    hits = []
    for e in expr.ref.patterns():
        try:
            if expr.compile([e.text])(sample):
                hits.append(e.text)
        except AclError:
            continue
    if not hits:
        return None
    if expr.method in ("ip", "beg"):

        def size(text: str) -> int:
            if expr.method == "beg":
                return len(text)
            try:
                return ipaddress.ip_network(text, strict=False).prefixlen
            except ValueError:
                return 0

        return max(hits, key=size)
    return hits[0]


@command(
    "get acl",
    "get acl <acl> <value>",
    "report the patterns matching a sample for an ACL",
)
def _get_acl(sess: CliSession, args: list[str], payload: str | None) -> str:
    name, value = _arg(args, 2), _arg(args, 3)
    if not name or not value:
        return "Missing ACL identifier and/or key.\n"
    ref = lookup(sess.server, name)
    if ref is None:
        return UNKNOWN
    out = []
    for expr in ref.exprs:
        case = "insensitive" if expr.icase else "sensitive"
        line = f"type={expr.method}, case={case}, match="
        sample = _sample(expr.method, value)
        hit = _best(expr, sample) if sample is not None else None
        if hit is None:
            out.append(line + "no\n")
            continue
        idx = "tree" if (expr.method, expr.icase) in _TREE else "list"
        out.append(line + f'yes, idx={idx}, pattern="{hit}"\n')
    return "".join(out)


@command("add acl", "add acl [@<ver>] <acl> <pattern>", "add an acl entry")
def _add_acl(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    gen, at = _versioned(args, 2)
    name, pattern = _arg(args, at), _arg(args, at + 1)
    if not name or not pattern:
        return "'add acl' expects two parameters: ACL identifier and pattern.\n"
    ref = lookup(sess.server, name)
    if ref is None:
        return UNKNOWN
    if gen is not None and _future(ref, gen):
        return "Version number in the future, please use 'prepare acl' before.\n"
    try:
        ref.add(pattern, gen)
    except AclError as exc:
        return exc.message + "\n"
    return None


@command("del acl", "del acl <acl> [<key>|#<ref>]", "delete acl entries matching <key>")
def _del_acl(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    name, key = _arg(args, 2), _arg(args, 3)
    if not name or not key:
        return "This command expects two parameters: ACL identifier and key.\n"
    ref = lookup(sess.server, name)
    if ref is None:
        return "Unknown map identifier. Please use #<id> or <file>.\n"  # sic
    if key.startswith("#"):
        target = _uint_hex(key[1:])
        gone = [e for e in ref.entries if id(e) == target]
    else:
        gone = [e for e in ref.patterns() if e.text == key]
    if not gone:
        return "Key not found.\n"
    ref.delete(gone)
    return None


def _uint_hex(text: str) -> int:
    """``strtoul(text, NULL, 16)`` of a ``#<ref>`` (with or without 0x)."""
    t = text[2:] if text[:2].lower() == "0x" else text
    n = 0
    while n < len(t) and t[n] in "0123456789abcdefABCDEF":
        n += 1
    return int(t[:n], 16) if n else 0


@command("clear acl", "clear acl [@<ver>] <acl>", "clear the contents of this acl")
def _clear_acl(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    gen, at = _versioned(args, 2)
    name = _arg(args, at)
    if not name:
        return "Missing ACL identifier.\n"
    ref = lookup(sess.server, name)
    if ref is None:
        return UNKNOWN
    ref.clear(gen)
    return None


@command("prepare acl", "prepare acl <acl>", "prepare a new version for atomic ACL replacement")
def _prepare_acl(sess: CliSession, args: list[str], payload: str | None) -> str:
    ref = lookup(sess.server, _arg(args, 2))
    if ref is None:
        return UNKNOWN
    return f"New version created: {ref.prepare()}\n"


@command("commit acl", "commit acl @<ver> <acl>", "commit the ACL at this version")
def _commit_acl(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    word = _arg(args, 2)
    if not word.startswith("@"):
        return "Missing version number.\n"
    gen = _uint(word[1:])
    ref = lookup(sess.server, _arg(args, 3))
    if ref is None:
        return UNKNOWN
    if _out_of_range(ref, gen):
        return "Version number out of range.\n"
    ref.commit(gen)
    return None
