"""'did you mean' suggestions, by word fingerprints as HAProxy computes them.

A fingerprint counts the transitions between consecutive characters of a
word (letters by identity, digits as one class, anything else as another,
plus begin and end markers); two words are close when few transitions
differ.  A candidate is offered only when it is close enough for the length
of the word typed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

_BEGIN_END = 28


def _cls(ch: str) -> int:
    c = ch.lower()
    if "a" <= c <= "z":
        return ord(c) - ord("a") + 1
    if c.isdigit():
        return 27
    return _BEGIN_END


def fingerprint(word: str) -> Counter[tuple[int, int]]:
    fp: Counter[tuple[int, int]] = Counter()
    prev = _BEGIN_END
    for ch in word:
        cur = _cls(ch)
        fp[(prev, cur)] += 1
        prev = cur
    fp[(prev, _BEGIN_END)] += 1
    return fp


def distance(a: Counter[tuple[int, int]], b: Counter[tuple[int, int]]) -> int:
    return sum((a[k] - b[k]) ** 2 for k in a.keys() | b.keys())


def best_match(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, or None when nothing is close enough."""
    fp = fingerprint(word)
    best, best_dist = None, None
    for cand in candidates:
        d = distance(fp, fingerprint(cand))
        if best_dist is None or d < best_dist:
            best, best_dist = cand, d
    if best is None or best_dist is None or best_dist > 2 * len(word) + 2:
        return None
    if best_dist >= len(word) + len(best):  # shares nothing useful
        return None
    return best
