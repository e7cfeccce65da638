"""The ssl keywords (configuration.txt §3.1 ``ssl-default-*``, ``ca-base``,
``crt-base``, ``ssl-server-verify``; §5.1 bind and §5.2 server ssl options).

Bind and server lines call ``attach_bind``/``attach_server`` once their
options are parsed: certificate material is loaded and checked then
(pyhaproxy/tls), and the line keeps a ``BindTLS``/``ServerTLS``.  ``check``
runs with the post-parse checks and builds every SSL context, so bad cipher
lists and missing CA files fail ``-c`` as in HAProxy."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from pyhaproxy.config.model import Used
from pyhaproxy.config.registry import ConfigError, keyword
from pyhaproxy.tls.certs import TlsError
from pyhaproxy.tls.context import BindTLS, ServerTLS, default_options, load_dh_file

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context
    from pyhaproxy.config.model import Bind, Config, Server
    from pyhaproxy.messages import Reporter

_VERSION_FLAGS = frozenset(
    f"{p}-{v}" for p in ("no", "force") for v in ("sslv3", "tlsv10", "tlsv11", "tlsv12", "tlsv13")
)
# bind options whose behaviour pyhaproxy/tls implements
BIND_TLS_OPTIONS = frozenset(
    {
        "ssl",
        "crt",
        "crt-list",
        "alpn",
        "ssl-min-ver",
        "ssl-max-ver",
        "ciphers",
        "ciphersuites",
        "curves",
        "ecdhe",
        "ca-file",
        "verify",
        "crl-file",
        "no-tls-tickets",
        "strict-sni",
        "prefer-client-ciphers",
        *_VERSION_FLAGS,
    }
)
# crt-list per-line options that pyhaproxy applies per certificate
# (pyhaproxy/tls/sni.py: the context switch and the client hello callback)
_LINE_OPTIONS = frozenset(
    {
        "alpn",
        "verify",
        "ca-file",
        "crl-file",
        "ssl-min-ver",
        "ssl-max-ver",
        "ciphers",
        "ciphersuites",
        "curves",
        "no-ca-names",
    }
)
SERVER_TLS_OPTIONS = frozenset(
    {
        "ssl",
        "no-ssl",
        "verify",
        "ca-file",
        "crl-file",
        "crt",
        "sni",
        "alpn",
        "ciphers",
        "ciphersuites",
        "curves",
        "ssl-min-ver",
        "ssl-max-ver",
        "no-tls-tickets",
        "verifyhost",
        "no-ssl-reuse",
        "ssl-reuse",
        *_VERSION_FLAGS,
    }
)
_NOW = None  # tests may freeze the clock: set to a datetime


def _now() -> datetime.datetime:
    return _NOW or datetime.datetime.now(datetime.UTC)


def attach_bind(ctx: Context, spec: str, bind: Bind) -> None:
    """Load the TLS material of a ``bind`` line (alerts as HAProxy's)."""
    opts = bind.options
    if not any(k in opts for k in ("ssl", "crt", "crt-list", "ca-file", "crl-file")):
        return
    tls = BindTLS(f"bind '{spec}'", ctx.where, opts)
    prefix = f"'bind {spec}' in section '{ctx.section}' : "
    try:
        extra = ctx.config.global_.extra
        tls.load(extra.get("crt-base"), _now(), extra.get("ca-base"))
    except TlsError as exc:
        lines = str(exc).split("\n")
        for first in lines[:-1]:
            ctx.loader.reporter.alert(first)
        raise ConfigError(prefix + lines[-1], bare=False) from None
    for text in tls.warnings:
        ctx.warn(prefix + text)
    if not ctx.config.global_.extra.get("ssl-dh-param-file"):
        for text in tls.dh_warnings(ctx.config.global_.tune.get("tune.ssl.default-dh-param")):
            ctx.warn(prefix + text)
    alpn = str(opts.get("alpn") or "").split(",")
    lines_alpn = [str(line.get("alpn", "")) for _, line, _, _ in tls.entries]
    h2 = "h2" in alpn or any("h2" in a.split(",") for a in lines_alpn)
    if h2 and ctx.proxy is not None and ctx.proxy.mode == "http":
        ctx.pending("bind alpn h2 (HTTP/2)")
    for path, lineno, name in tls.line_options:
        if name not in _LINE_OPTIONS:
            ctx.pending(f"crt-list option '{name}' in file '{path}', line {lineno}")
    bind.tls = tls


def attach_server(ctx: Context, label: str, srv: Server) -> None:
    """Load the TLS material of a ``server`` line."""
    opts = srv.options
    if not opts.get("ssl") or opts.get("no-ssl"):
        return
    tls = ServerTLS(label, ctx.where, opts)
    try:
        tls.load(_now())
    except TlsError as exc:
        lines = str(exc).split("\n")
        ctx.loader.reporter.alert(f"[{ctx.where}] : {label} : {lines[0]}")
        raise ConfigError(lines[-1], bare=True) from None
    if opts.get("sni") and tls.sni is None:
        ctx.pending(f"server sni {opts['sni']}")
    srv.tls = tls


def check(config: Config, reporter: Reporter) -> int:
    """Build every SSL context; report each failure; return their number."""
    errors = 0
    tune = {k: v for k, v in config.global_.tune.items() if k.startswith("tune.ssl.")}
    extra = {**config.global_.extra, **tune}
    for px in config.proxies:
        if px.disabled:
            continue
        for bind in px.binds:
            tls = getattr(bind, "tls", None)
            if tls is None or not tls.enabled():
                continue
            try:
                tls.context(px.name, extra)
            except TlsError as exc:
                reporter.alert(str(exc))
                errors += 1
        for srv in px.servers:
            tls = getattr(srv, "tls", None)
            if tls is None:
                errors += _check_ssl(px, srv, extra, reporter)
                continue
            dynamic = tls.sni is not None and not tls.opts["sni"].startswith("str(")
            if dynamic and px.mode == "http" and px.settings.extra.get("http-reuse") != "never":
                # idle server connections are not keyed by their SNI yet
                px.settings.used.append(
                    Used(srv.where, f"server sni {tls.opts['sni']} without 'http-reuse never'")
                )
            try:
                tls.context(extra)
            except TlsError as exc:
                reporter.alert(str(exc))
                errors += 1
    return errors


def _check_ssl(px, srv: Server, extra: dict, reporter: Reporter) -> int:
    """``check-ssl`` on a server without ``ssl``: HAProxy prepares the
    server's SSL context all the same (its checks use it); pyhaproxy/checks
    builds its own at start, this reports the same errors for ``-c``."""
    if not srv.options.get("check-ssl"):
        return 0
    from pyhaproxy.checks.tls import for_server  # (import cycle)

    try:
        for_server(f"'server {px.name}/{srv.name}'", srv, extra)
    except TlsError as exc:
        reporter.alert(str(exc))
        return 1
    return 0


G = ("global",)


def _string(name: str) -> None:
    @keyword(name, sections=G, implemented=True)
    def parse(ctx: Context) -> None:
        if len(ctx.words) < 2 or not ctx.words[1]:
            raise ConfigError(f"'{name}' expects a single argument.")
        ctx.config.global_.extra[name] = " ".join(ctx.words[1:])


for _name in (
    "ca-base",
    "crt-base",
    "ssl-default-bind-ciphers",
    "ssl-default-bind-ciphersuites",
    "ssl-default-bind-curves",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
):
    _string(_name)


@keyword("ssl-dh-param-file", sections=G, implemented=True)
def _dh_file(ctx: Context) -> None:
    """``ssl-dh-param-file <file>`` (§3.1): the DH parameters of every bind
    certificate whose file carries none, read and checked now as HAProxy
    does (pyhaproxy/tls/context.py ``_set_dh``)."""
    if len(ctx.words) < 2 or not ctx.words[1]:
        raise ConfigError("'ssl-dh-param-file' expects a file path as an argument.")
    path = ctx.words[1]
    if not load_dh_file(path):
        raise ConfigError(f"'ssl-dh-param-file': unable to load DH parameters from file <{path}>.")
    ctx.config.global_.extra["ssl-dh-param-file"] = path


@keyword("ssl-default-bind-options", sections=G, implemented=True)
@keyword("ssl-default-server-options", sections=G, implemented=True)
def _ssl_opts(ctx: Context) -> None:
    """``ssl-default-bind-options [<option>]...`` (§3.1): version limits,
    ``no-*``/``force-*``, ``no-tls-tickets``, ``prefer-client-ciphers``."""
    words = list(ctx.words[1:])
    try:
        default_options(words)
    except TlsError as exc:
        raise ConfigError(f"{str(exc)[:-1]} on global statement '{ctx.words[0]}'.") from None
    ctx.config.global_.extra[ctx.words[0]] = words
