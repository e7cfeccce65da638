"""systemd's notify protocol (sd_notify(3)), for ``-Ws`` under a unit with
``Type=notify``: one datagram per state change to the socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace).

States sent, as HAProxy's master: ``READY=1`` once the workers serve (again
after each successful reload), ``RELOADING=1`` when a reload starts,
``STOPPING=1`` when the master stops.  Without ``$NOTIFY_SOCKET`` every
call does nothing.
"""

from __future__ import annotations

import contextlib
import os
import socket


class Notifier:
    def __init__(self, enabled: bool) -> None:
        path = os.environ.get("NOTIFY_SOCKET", "") if enabled else ""
        if path.startswith("@"):
            path = "\0" + path[1:]
        self.address = path or None

    def send(self, state: str) -> None:
        """Send ``state`` (``KEY=value`` lines); errors are ignored, as
        sd_notify's caller in HAProxy ignores them."""
        if self.address is None:
            return
        with (
            contextlib.suppress(OSError),
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
        ):
            sock.sendto(state.encode(), self.address)

    def ready(self) -> None:
        self.send(f"READY=1\nMAINPID={os.getpid()}\nSTATUS=Ready.\n")

    def reloading(self) -> None:
        self.send("RELOADING=1\nSTATUS=Reloading Configuration.\n")

    def stopping(self) -> None:
        self.send("STOPPING=1\nSTATUS=Stopping.\n")
