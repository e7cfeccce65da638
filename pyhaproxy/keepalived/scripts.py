"""Scripts: ``vrrp_script`` tracking, notify scripts, e-mail alerts.

keepalived.conf(5): a ``vrrp_script`` runs every ``interval`` seconds; after
``rise`` consecutive successes it is OK, after ``fall`` consecutive failures
(a non-zero exit or a ``timeout``) it is failed.  Notify scripts run with no
extra argument (``notify_master`` ...) or with ``INSTANCE|GROUP NAME STATE
PRIORITY`` appended (``notify``).
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import smtplib
import socket
import time
from collections.abc import Callable
from email.message import EmailMessage

from pyhaproxy.keepalived.model import GlobalDefs, Notify, VrrpScript

log = logging.getLogger("pykeepalived")


def command(text: str) -> list[str]:
    """Split a script string into argv (keepalived does not use a shell)."""
    return shlex.split(text)


async def run(argv: list[str], timeout: float | None, user: str | None = None) -> int:
    """Run ``argv``; its exit status, or -1 after a timeout or when it cannot start."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            user=user,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        log.warning("Cannot run script %s: %s", argv[0] if argv else "", exc)
        return -1
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1


class ScriptTracker:
    """Runs one ``vrrp_script`` and reports OK/failed changes to ``on_change``."""

    def __init__(self, conf: VrrpScript, user: str | None) -> None:
        self.conf = conf
        self.user = conf.user or user
        self.ok = not conf.init_fail
        self._streak = 0
        self.listeners: list[Callable[[ScriptTracker], None]] = []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        if self._task:
            self._task.cancel()

    async def _loop(self) -> None:
        argv = command(self.conf.script or "")
        timeout = self.conf.timeout or self.conf.interval
        while True:
            started = time.monotonic()
            rc = await run(argv, timeout, self.user)
            self.record(rc == 0)
            await asyncio.sleep(max(0.0, self.conf.interval - (time.monotonic() - started)))

    def record(self, success: bool) -> None:
        """One result; flips the state after ``rise``/``fall`` consecutive ones."""
        if success == self.ok:
            self._streak = 0
            return
        self._streak += 1
        if self._streak >= (self.conf.rise if success else self.conf.fall):
            self._streak = 0
            self.ok = success
            log.info("VRRP_Script(%s) %s", self.conf.name, "succeeded" if success else "failed")
            for cb in list(self.listeners):
                cb(self)


class Notifier:
    """Runs notify scripts and sends e-mail alerts, without blocking the loop."""

    def __init__(self, gdefs: GlobalDefs) -> None:
        self.gdefs = gdefs
        self._tasks: set[asyncio.Future] = set()

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def state(self, kind: str, name: str, notify: Notify, state: str, priority: int) -> None:
        """``kind`` is INSTANCE or GROUP; ``state`` MASTER/BACKUP/FAULT/STOP."""
        specific = {
            "MASTER": notify.master,
            "BACKUP": notify.backup,
            "FAULT": notify.fault,
            "STOP": notify.stop,
        }.get(state)
        argvs = []
        if specific:
            argvs.append(command(specific))
        if notify.any:
            argvs.append([*command(notify.any), kind, name, state, str(priority)])
        if argvs:
            self._spawn(self._sequence(argvs))

    async def _sequence(self, argvs: list[list[str]]) -> None:
        # keepalived: "notify" runs AFTER the notify_* script.
        for argv in argvs:
            await run(argv, None, self.gdefs.script_user)

    def mail(self, subject: str, body: str) -> None:
        g = self.gdefs
        if not g.smtp_server or not g.notification_email:
            return
        self._spawn(asyncio.get_running_loop().run_in_executor(None, self._send, subject, body))

    def _send(self, subject: str, body: str) -> None:
        g = self.gdefs
        msg = EmailMessage()
        msg["From"] = g.notification_email_from or f"keepalived@{socket.gethostname()}"
        msg["To"] = ", ".join(g.notification_email)
        msg["Subject"] = f"[{g.router_id or socket.gethostname()}] {subject}"
        msg.set_content(body)
        try:
            with smtplib.SMTP(
                g.smtp_server or "", g.smtp_port, g.smtp_helo_name, timeout=g.smtp_connect_timeout
            ) as smtp:
                smtp.send_message(msg)
            log.info("Remote SMTP server [%s]:%d connected.", g.smtp_server, g.smtp_port)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("Error sending alert to SMTP server [%s]: %s", g.smtp_server, exc)

    async def drain(self, timeout: float = 2.0) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
