"""An ordered multiset of (32-bit key, item), as HAProxy's eb32 trees.

Equal keys keep their insertion order (a later duplicate comes after the
earlier ones), which is what makes servers of equal weight or equal load
take turns.  Sizes are the number of servers (or ring points), so a sorted
list with ``bisect`` is enough.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from itertools import count
from typing import Any

SEQ = count()  # insertion order of equal keys (shared by all trees)


class Tree:
    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[tuple[int, int, Any]] = []

    def insert(self, key: int, item: Any) -> tuple[int, int, Any]:
        """Add ``item`` under ``key``; returns the entry for ``delete``."""
        entry = (key, next(SEQ), item)
        insort(self.entries, entry)
        return entry

    def delete(self, entry: tuple[int, int, Any]) -> None:
        entries = self.entries
        i = bisect_left(entries, (entry[0], entry[1]))
        if i < len(entries) and entries[i] is entry:
            del entries[i]

    def index(self, entry: tuple[int, int, Any]) -> int:
        """Position of ``entry`` (it must be in the tree)."""
        return bisect_left(self.entries, (entry[0], entry[1]))

    def first(self) -> Any:
        entries = self.entries
        return entries[0][2] if entries else None

    def lookup_ge(self, key: int) -> int:
        """Index of the first entry whose key is >= ``key`` (may be len)."""
        return bisect_left(self.entries, (key,))

    def __len__(self) -> int:
        return len(self.entries)
