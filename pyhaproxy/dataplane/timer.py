"""A coarse per-process timer wheel for connection timeouts (DESIGN.md rule 4).

Invariants:
- an armed object has ``deadline`` (loop time, seconds) and ``on_timeout()``;
  re-arming on activity only writes ``deadline`` (no wheel operation) unless
  the new deadline is earlier than the slot the object already sits in;
- ``timer_slot`` is the earliest slot holding the object; entries found in a
  later slot are stale and dropped; an entry whose deadline moved later is
  re-filed, one whose deadline is ``None`` is dropped;
- ``now`` is refreshed on every tick, so hot paths read it instead of calling
  ``loop.time()``; deadlines are therefore late by at most one resolution.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class Timed(Protocol):
    deadline: float | None
    timer_slot: int | None

    def on_timeout(self) -> None: ...


class TimerWheel:
    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = 0.05) -> None:
        self.loop = loop
        self.resolution = resolution
        self.now = loop.time()
        self.slots: dict[int, list[Timed]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._last = int(self.now / resolution)

    def arm(self, obj: Timed, timeout_ms: int | None) -> None:
        """Expire ``obj`` ``timeout_ms`` from now (None/0: never)."""
        if not timeout_ms:
            obj.deadline = None
            return
        if self._handle is None:  # not ticking: ``now`` may be old
            self.now = self.loop.time()
        deadline = self.now + timeout_ms / 1000.0
        obj.deadline = deadline
        slot = int(deadline / self.resolution) + 1
        current = obj.timer_slot
        if current is None or slot < current:
            obj.timer_slot = slot
            bucket = self.slots.get(slot)
            if bucket is None:
                self.slots[slot] = [obj]
            else:
                bucket.append(obj)
            if self._handle is None:
                self._handle = self.loop.call_later(self.resolution, self._tick)

    @staticmethod
    def disarm(obj: Timed) -> None:
        obj.deadline = None

    def _tick(self) -> None:
        self.now = now = self.loop.time()
        current = int(now / self.resolution)
        slots = self.slots
        for slot in range(self._last, current + 1):
            bucket = slots.pop(slot, None)
            if not bucket:
                continue
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
        self._last = current + 1
        self._handle = self.loop.call_later(self.resolution, self._tick) if slots else None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.slots.clear()
