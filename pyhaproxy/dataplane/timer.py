"""A coarse per-process timer wheel for connection timeouts (DESIGN.md rule 4).

Invariants:
- an armed object has ``deadline`` (loop time, seconds) and ``on_timeout()``;
  re-arming on activity only writes ``deadline`` (no wheel operation) unless
  the new deadline is earlier than the slot the object already sits in;
- ``timer_slot`` is the earliest slot holding the object; entries found in a
  later slot are stale and dropped; an entry whose deadline moved later is
  re-filed, one whose deadline is ``None`` is dropped;
- the wheel wakes up only when its earliest slot is due (``_at``, with one
  loop timer for the whole wheel): idle connections cost no wake-ups until
  one of them may expire; deadlines are late by at most one resolution.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol


class Timed(Protocol):
    deadline: float | None
    timer_slot: int | None

    def on_timeout(self) -> None: ...


class TimerWheel:
    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = 0.05) -> None:
        self.loop = loop
        self.resolution = resolution
        self.slots: dict[int, list[Timed]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._at: float = math.inf  # the slot the loop timer fires for: min(slots)

    def arm(self, obj: Timed, timeout_ms: int | None) -> None:
        """Expire ``obj`` ``timeout_ms`` from now (None/0: never)."""
        if not timeout_ms:
            obj.deadline = None
            return
        deadline = self.loop.time() + timeout_ms / 1000.0
        obj.deadline = deadline
        slot = int(deadline / self.resolution) + 1
        current = obj.timer_slot
        if current is None or slot < current:
            obj.timer_slot = slot
            bucket = self.slots.get(slot)
            if bucket is None:
                self.slots[slot] = [obj]
                if slot < self._at:
                    self._wake_at(slot)
            else:
                bucket.append(obj)

    @staticmethod
    def disarm(obj: Timed) -> None:
        obj.deadline = None

    def _wake_at(self, slot: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._at = slot
        # at least 2 ms ahead: the loop's clock has a millisecond grain, and a
        # timer due at once, started from a timer callback, would run again
        # in the same pass of the loop without its clock moving (libuv)
        delay = max(slot * self.resolution - self.loop.time(), 0.0) + 0.002
        self._handle = self.loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._handle, self._at = None, math.inf
        now = self.loop.time()
        current = int(now / self.resolution)
        slots = self.slots
        for slot in sorted(k for k in slots if k <= current):
            bucket = slots.pop(slot)
            for obj in bucket:
                if obj.timer_slot != slot:
                    continue  # stale: filed in an earlier slot too
                obj.timer_slot = None
                deadline = obj.deadline
                if deadline is None:
                    continue
                if deadline > now:
                    new = int(deadline / self.resolution) + 1
                    obj.timer_slot = new
                    slots.setdefault(new, []).append(obj)
                    continue
                obj.deadline = None
                try:
                    obj.on_timeout()
                except Exception as exc:  # a timeout must not stop the wheel
                    self.loop.call_exception_handler(
                        {"message": "timeout handler failed", "exception": exc}
                    )
        if slots:  # (a handler may have armed a later one already)
            first = min(slots)
            if first < self._at:
                self._wake_at(first)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._at = math.inf
        self.slots.clear()
