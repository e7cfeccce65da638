"""Health checks over TLS: which connects encrypt, with what context.

configuration.txt §5.2 "check-ssl" ("forces encryption of all health checks
over SSL, regardless of whether the server uses SSL or not for the normal
traffic ... when 'ssl' is set on the server, check-ssl is implied"),
"no-check-ssl", "check-sni", "check-alpn"; §4.2 "tcp-check connect ssl sni".
The server's own TLS settings (verify, ca-file, crt, ciphers ...) apply; its
``sni`` expression does not (a check has no client), only ``check-sni``.

Invariants: the ``SSLContext`` of a server's checks is built once, at start
(``for_server``); a check's default connects (the implicit one and
``connect default``) carry ``ssl``/``sni`` once the rule set is bound to its
server (``bind_ruleset``), so the runner reads both from the ``Connect``.
"""

from __future__ import annotations

import dataclasses
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyhaproxy.checks import rules as R
from pyhaproxy.tls.context import ServerTLS, host_matches

if TYPE_CHECKING:
    from pyhaproxy.config.model import Config, Server

# HAProxy's conn_err_code_str() for the TLS errors of a check connection
HANDSHAKE_FAILURE = "SSL handshake failure"
MISMATCH_SNI = "Server presented an SSL certificate different from the expected one"
MISMATCH = "Server presented an SSL certificate different from the configured one"


@dataclass(frozen=True, slots=True)
class CheckTLS:
    """What a check's TLS connects use: the context, and the name their
    certificate must carry when ``verify required`` (``verifyhost``)."""

    context: ssl.SSLContext
    verifyhost: str | None = None

    def wrap(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, sni: str) -> ssl.SSLObject:
        return self.context.wrap_bio(incoming, outgoing, server_hostname=sni or None)

    def mismatch(self, obj: ssl.SSLObject, sni: str) -> str:
        """ "" when the peer's certificate is acceptable, else HAProxy's words
        (ssl_sock_srv_verifycbk: the SNI sent, else ``verifyhost``)."""
        if self.context.verify_mode != ssl.CERT_REQUIRED:
            return ""
        name = sni.lower() if sni else self.verifyhost
        if not name or host_matches(obj.getpeercert(), name):
            return ""
        return MISMATCH_SNI if sni else MISMATCH


def uses_ssl(opts: dict[str, Any]) -> bool:
    """Whether default connects encrypt: ``check-ssl``, or ``ssl`` unless
    ``no-check-ssl`` (HAProxy's ``check.use_ssl``)."""
    if opts.get("check-ssl"):
        return True
    return bool(opts.get("ssl")) and not opts.get("no-ssl") and not opts.get("no-check-ssl")


def needs_tls(opts: dict[str, Any], ruleset: R.Ruleset) -> bool:
    return uses_ssl(opts) or any(isinstance(s, R.Connect) and s.ssl for s in ruleset.steps)


def tls_extra(config: Config) -> dict[str, Any]:
    """The global settings a server context reads (as ssl.check does)."""
    g = config.global_
    tune = {k: v for k, v in g.tune.items() if k.startswith("tune.ssl.")}
    return {**g.extra, **tune}


def for_server(label: str, model: Server, extra: dict[str, Any]) -> CheckTLS:
    """Build the context of a server's checks (raises ``TlsError``): the
    server line's TLS options, ``check-alpn`` over ``alpn``, without ``sni``
    (the SNI of a check is ``check-sni``, its name checked here)."""
    opts = {k: v for k, v in model.options.items() if k != "sni"}
    if opts.get("check-alpn"):  # "If it is not set, the server ALPN is used."
        opts["alpn"] = opts["check-alpn"]
    tls = ServerTLS(label, model.where, opts)
    tls.load()
    ctx = tls.context(extra)
    return CheckTLS(ctx, tls.verifyhost)


def bind_ruleset(ruleset: R.Ruleset, opts: dict[str, Any]) -> R.Ruleset:
    """The rule set of one server: its default connects take ``ssl`` from
    ``uses_ssl`` and their SNI from ``check-sni`` (tcpcheck_eval_connect)."""
    use_ssl = uses_ssl(opts)
    sni = str(opts.get("check-sni") or "")
    if not use_ssl:
        return ruleset
    steps = tuple(
        dataclasses.replace(s, ssl=True, sni=s.sni or sni)
        if isinstance(s, R.Connect) and (s.implicit or s.default)
        else s
        for s in ruleset.steps
    )
    return R.Ruleset(ruleset.proto, steps)
