"""Certificate selection by SNI (configuration.txt §5.1 "crt", "strict-sni",
"crt-list" ``[!]<snifilter>``).

Every certificate has its own prebuilt ``SSLContext``; the first one is the
default.  The handshake's ``sni_callback`` looks the name up exactly, then
as a wildcard (``*.`` + everything after the first label), and switches the
connection to the context found; no match keeps the default, or aborts the
handshake with ``strict-sni``.

A crt-list line's versions, cipher lists, verify mode and flags are
settings OpenSSL copies into each connection when it is created:
``connections`` holds them per context, and a client hello callback
(installed by ``install``) applies the selected line's to the connection
before the version is negotiated, as HAProxy's ``ssl_sock_switchctx_cbk``
does.  The CA store, CRL and client CA names follow the context switch
itself; the groups (``curves``) stay the first context's, as in HAProxy."""

from __future__ import annotations

import ssl
from typing import Any

from pyhaproxy.tls import openssl


class SniSelector:
    __slots__ = ("default", "exact", "wild", "strict", "connections", "_hello")

    def __init__(self, default: ssl.SSLContext, strict: bool = False) -> None:
        self.default = default
        self.exact: dict[str, ssl.SSLContext] = {}
        self.wild: dict[str, ssl.SSLContext] = {}  # ".example.com" → context
        self.strict = strict
        self.connections: dict[ssl.SSLContext, openssl.Connection] = {}
        self._hello: object = None  # the C callback, kept alive here

    def install(self) -> None:
        """Become the default context's SNI callback; with per-line
        connection settings, its client hello callback too."""
        self.default.sni_callback = self
        if self.connections:
            self._hello = openssl.set_client_hello_cb(self.default, self._on_hello)

    def _on_hello(self, ssl_ptr: int) -> None:
        name = openssl.hello_server_name(ssl_ptr)
        target = self.find(name) if name else None
        if target is not None and target is not self.default:
            conn = self.connections.get(target)
            if conn is not None:
                conn.apply(ssl_ptr)

    def add(self, ctx: ssl.SSLContext, names: list[str], excluded: list[str] = ()) -> None:
        """Index ``ctx`` under ``names``; the first certificate given a name
        keeps it.  ``excluded`` (crt-list ``!name``) removes names again."""
        for name in names:
            name = name.lower()
            if name.startswith("*."):
                self.wild.setdefault(name[1:], ctx)
            else:
                self.exact.setdefault(name, ctx)
        for name in excluded:
            name = name.lower()
            table, key = (self.wild, name[1:]) if name.startswith("*.") else (self.exact, name)
            if table.get(key) is ctx:
                del table[key]
            elif not name.startswith("*."):
                # a wildcard entry must not answer for an excluded name
                self.exact.setdefault(name, None)  # type: ignore[arg-type]

    def find(self, name: str) -> ssl.SSLContext | None:
        name = name.lower()
        if name in self.exact:
            return self.exact[name]
        dot = name.find(".")
        return self.wild.get(name[dot:]) if dot > 0 else None

    def __call__(self, sslobj: Any, name: str | None, ctx: ssl.SSLContext) -> int | None:
        sslobj.sni = name  # for ssl_fc_sni (pyhaproxy/sample/ssl_fetches.py)
        if name is None:
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE if self.strict else None
        target = self.find(name)
        if target is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME if self.strict else None
        if target is not ctx:
            sslobj.context = target
        return None
