"""The link between the master and each worker: framed messages, and the
master's relay of the control-plane state (DESIGN.md "Process model").

A frame is a 4-byte big-endian length followed by that many bytes of JSON,
a list whose first element names the message.  Worker → master:

- ``["ready"]`` accepting; ``["stopped"]`` a soft stop closed the listeners;
- ``["state", records]`` (the check owner, worker 1 of its generation):
  server state changes, ``[backend, server, {field: value}]`` each
  (``share.py`` names the fields); the master merges them into its copy of
  the generation's state and relays them to every other worker;
- ``["repl", id, *operation]`` a state change this worker made: a CLI
  command (``"cli", level, line``) or a stats page admin form (``"web",
  body``); relayed as ``["repl", origin, id, *operation]`` to every other
  worker, which makes it too and answers ``["ack", origin, id, answer]``
  (its CLI answer or ``st=`` code); the origin gets ``["done", id,
  [[pid, answer], ...]]`` once every ready worker has;
- ``["owner", *message]`` for the check owner of the generation: relayed
  to it as ``[kind, origin, ...]`` (``result``: an observer's verdict);
- ``["gather", id]`` the reader of counters; every other ready worker gets
  ``["gather", origin, id]`` and answers ``["counters", origin, id,
  snapshot]``; the origin gets ``["gathered", id, [snapshot, ...]]``.

Master → a new worker, first of all: ``["snapshot", records]``, the state
published so far in its generation (a worker replacing a dead one starts
from it, not from the configuration).

Invariants: the master relays in the order it receives (one FIFO per
link), never blocks on a worker (``Peer.out`` buffers), and a worker that
dies no longer holds up a ``repl`` or a ``gather``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 64 << 20  # a protocol error beyond this


def frame(msg: list[Any]) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode()
    return HEADER.pack(len(body)) + body


class FrameError(Exception):
    pass


class Frames:
    """Incremental decoder: ``feed(bytes)`` returns the complete messages."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[list[Any]]:
        buf = self.buf
        buf += data
        out = []
        pos = 0
        while len(buf) - pos >= 4:
            (size,) = HEADER.unpack_from(buf, pos)
            if size > MAX_FRAME:
                raise FrameError(f"frame of {size} bytes")
            if len(buf) - pos - 4 < size:
                break
            out.append(json.loads(bytes(buf[pos + 4 : pos + 4 + size])))
            pos += 4 + size
        del buf[:pos]
        return out


@dataclass(eq=False)
class Pending:
    """A ``repl`` or ``gather`` of worker ``origin`` waiting for ``waiting``."""

    kind: str
    origin: int
    ident: int
    waiting: set[int]
    got: list[Any] = field(default_factory=list)


class Hub:
    """The master's side of every link.  ``master`` provides ``workers``
    (pid → Worker with ``link``, ``generation``, ``ready``) and
    ``want_write(worker, bool)`` (select for writing or not)."""

    def __init__(self, master: Any) -> None:
        self.master = master
        self.pending: list[Pending] = []

    # ---- sending --------------------------------------------------------------

    def send(self, w: Any, msg: list[Any]) -> None:
        if w.link.fileno() < 0:
            return
        w.out += frame(msg)
        self.flush(w)

    def flush(self, w: Any) -> None:
        try:
            while w.out:
                n = w.link.send(w.out)
                del w.out[:n]
        except BlockingIOError:
            pass
        except OSError:
            w.out.clear()  # gone: reaped soon
        self.master.want_write(w, bool(w.out))

    def siblings(self, w: Any, ready_only: bool) -> list[Any]:
        return [
            x
            for x in self.master.workers.values()
            if x is not w and x.generation is w.generation and (x.ready or not ready_only)
        ]

    # ---- a new worker ---------------------------------------------------------

    def started(self, w: Any) -> None:
        state = w.generation.state
        self.send(w, ["snapshot", [[b, s, f] for (b, s), f in state.items()]])

    # ---- receiving --------------------------------------------------------------

    def received(self, w: Any, msg: list[Any]) -> None:
        kind = msg[0]
        if kind == "state":
            state = w.generation.state
            for b, s, fields in msg[1]:
                state.setdefault((b, s), {}).update(fields)
            for x in self.siblings(w, ready_only=False):
                self.send(x, msg)
        elif kind == "repl":
            ident = msg[1]
            targets = self.siblings(w, ready_only=False)
            waiting = {x.pid for x in targets if x.ready}
            for x in targets:
                self.send(x, ["repl", w.pid, ident, *msg[2:]])
            self._wait(Pending("done", w.pid, ident, waiting))
        elif kind == "owner":
            owner = [x for x in self.siblings(w, ready_only=False) if x.relative == 1]
            for x in owner:
                self.send(x, [msg[1], w.pid, *msg[2:]])
            if not owner:
                self.master.reporter.warning(
                    f"no check owner to apply worker ({w.pid})'s {msg[1]}", context=None
                )
        elif kind == "ack":
            self._answered(msg[1], msg[2], w.pid, [w.pid, msg[3]])
        elif kind == "gather":
            targets = self.siblings(w, ready_only=True)
            for x in targets:
                self.send(x, ["gather", w.pid, msg[1]])
            self._wait(Pending("gathered", w.pid, msg[1], {x.pid for x in targets}))
        elif kind == "counters":
            self._answered(msg[1], msg[2], w.pid, msg[3])

    def _wait(self, p: Pending) -> None:
        self.pending.append(p)
        self._complete(p)

    def _answered(self, origin: int, ident: int, pid: int, value: Any) -> None:
        for p in self.pending:
            if p.origin == origin and p.ident == ident and pid in p.waiting:
                p.waiting.discard(pid)
                if value is not None:
                    p.got.append(value)
                self._complete(p)
                return

    def _complete(self, p: Pending) -> None:
        if p.waiting:
            return
        self.pending.remove(p)
        w = self.master.workers.get(p.origin)
        if w is not None:
            self.send(w, [p.kind, p.ident, p.got])

    def gone(self, pid: int) -> None:
        """Worker ``pid`` died: nobody waits for it, its own requests end."""
        for p in list(self.pending):
            if p.origin == pid:
                self.pending.remove(p)
            elif pid in p.waiting:
                p.waiting.discard(pid)
                self._complete(p)
