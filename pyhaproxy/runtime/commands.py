"""The CLI command registry and HAProxy's help/usage message (management.txt §9.3).

A command module registers each command next to its code with the words that
select it and its usage line (``@command("get weight", usage=...)``), so
``help`` cannot drift.  ``find(args)`` picks the first command whose words
all equal the first arguments, as HAProxy's ``cli_find_kw``.

``usage_message`` rebuilds HAProxy 2.6's answer to ``help`` and to an unknown
command: the commands whose first words match, or, for a partially matching
line, the closest ones by word fingerprints (``config/suggest.py``), sorted
by usage line, followed by the three always-listed ``help``, ``prompt`` and
``quit`` lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhaproxy.config.suggest import fingerprint

if TYPE_CHECKING:
    from pyhaproxy.runtime.cli import CliSession

# access levels of a CLI session (HAProxy's ACCESS_LVL_*)
USER, OPERATOR, ADMIN = 1, 2, 3
LEVELS = {"user": USER, "operator": OPERATOR, "admin": ADMIN}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}

PERMISSION_DENIED = "Permission denied\n"

# Handler(session, args, payload) -> text to send (None: nothing); args are
# the words of the line, the command's own words included.
Handler = Callable[["CliSession", list[str], "str | None"], "str | None"]

_MAX_MATCHES = 5  # CLI_MAX_MATCHES
_ALWAYS = (
    "  help [<command>]                        : list matching or all commands\n"
    "  prompt                                  : toggle interactive mode with prompt\n"
    "  quit                                    : disconnect\n"
)


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[str, ...]
    usage: str | None
    handler: Handler
    level: int  # the level the session needs, checked before the handler


COMMANDS: list[Command] = []


def command(
    words: str, syntax: str | None = None, text: str = "", level: int = USER
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for the command ``words`` (``"get weight"``);
    ``syntax`` and ``text`` make its ``help`` line (none: hidden)."""
    usage = f"{syntax:<40}: {text}" if syntax is not None else None

    def deco(handler: Handler) -> Handler:
        COMMANDS.append(Command(tuple(words.split()), usage, handler, level))
        return handler

    return deco


def find(args: list[str]) -> Command | None:
    for cmd in COMMANDS:
        n = len(cmd.words)
        if len(args) >= n and tuple(args[:n]) == cmd.words:
            return cmd
    return None


def char_class(ch: str) -> int:
    """1..26 letters, 27 digits, 28 anything else (HAProxy's classes)."""
    c = ch.lower()
    if "a" <= c <= "z":
        return ord(c) - ord("a") + 1
    return 27 if "0" <= c <= "9" else 28


def _sig(words: list[str] | tuple[str, ...]) -> Counter:
    """HAProxy's update_word_fingerprint over several words: transitions
    counted, plus a presence mark (0, class) per character class seen."""
    sig: Counter = Counter()
    for w in words:
        sig.update(fingerprint(w))
        for ch in w:
            sig[(0, char_class(ch))] = 1
    return sig


def _distance(a: Counter, b: Counter) -> int:
    return sum(abs(a[k] - b[k]) for k in a.keys() | b.keys())


def usage_message(args: list[str]) -> str:
    """HAProxy's ``cli_gen_usage_msg``: ``help [words]`` or an unknown command."""
    ishelp = bool(args) and args[0] == "help"
    if ishelp:
        args = args[1:]
    length = 0
    for cmd in COMMANDS:
        for i, word in enumerate(cmd.words):
            if i >= len(args) or not args[i] or word != args[i]:
                break
            length = max(length, i + 1)
    if ishelp:
        out = ["The following commands are valid at this level:\n"]
    elif not length and (not args or not args[0]):
        out = ["Unknown command. Please enter one of the following commands only:\n"]
    else:
        out = ["Unknown command, but maybe one of the following ones is a better match:\n"]
    entries: list[Command] = []
    matches: list[tuple[int, Command]] = []
    if length < len(args) and args[length]:
        rest = [a for a in args[length:] if a]
        for cmd in COMMANDS:
            if cmd.usage is None or tuple(args[:length]) != cmd.words[:length]:
                continue
            if len(cmd.words) < length:
                continue
            tail = cmd.words[length:]
            totlen = sum(map(len, rest)) + sum(map(len, tail))
            dist = _distance(_sig(rest), _sig(tail))
            worst = matches[-1][0] if len(matches) == _MAX_MATCHES else None
            if dist < 5 * totlen // 2 and (worst is None or dist < worst):
                if worst is not None:
                    matches.pop()
                pos = len(matches)
                while pos > 0 and matches[pos - 1][0] > dist:
                    pos -= 1
                matches.insert(pos, (dist, cmd))
    if matches:
        best = matches[0][0]
        entries = [cmd for dist, cmd in matches if dist <= 5 * best // 2]
    else:
        for cmd in COMMANDS:
            words = cmd.words
            if (
                cmd.usage is not None
                and len(words) >= length
                and tuple(args[:length]) == words[:length]
            ):
                entries.append(cmd)
    entries.sort(key=lambda c: c.usage or "")
    out.extend(f"  {cmd.usage}\n" for cmd in entries)
    out.append(_ALWAYS)
    return "".join(out)
