"""``ssl.SSLContext`` building, once per bind line and once per server
(configuration.txt §5.1 and §5.2 ssl options, §3.1 ``ssl-default-*``).

``BindTLS`` and ``ServerTLS`` are made while a ``bind``/``server`` line is
parsed (certificate material is read and checked then, errors are the
line's alerts) and build their contexts in the post-parse checks (invalid
cipher lists, a missing CA file: HAProxy's "Proxy 'f': ..." alerts).  The
data plane only takes the built contexts."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import ssl
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from pyhaproxy.tls import openssl
from pyhaproxy.tls.certs import Material, TlsError, load_ca_file, load_crt, load_file
from pyhaproxy.tls.crtlist import CrtListLine, read_crt_list
from pyhaproxy.tls.sni import SniSelector
from pyhaproxy.tls.versions import check_version, version_range

__all__ = ["BindTLS", "ServerTLS", "check_verify", "default_options", "dh_size"]

VERIFY = ("none", "optional", "required")
_CERT_REQS = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
# words of ``ssl-default-bind-options`` / ``ssl-default-server-options`` (§3.1)
_DEFAULT_FLAGS = frozenset(
    {
        "no-sslv3",
        "no-tlsv10",
        "no-tlsv11",
        "no-tlsv12",
        "no-tlsv13",
        "force-sslv3",
        "force-tlsv10",
        "force-tlsv11",
        "force-tlsv12",
        "force-tlsv13",
        "no-tls-tickets",
        "prefer-client-ciphers",
    }
)


def check_verify(word: str) -> str:
    if word not in VERIFY:
        raise TlsError(
            f"'verify' : unknown verify method '{word}', "
            "only 'none', 'optional', and 'required' are supported"
        )
    return word


def default_options(words: list[str]) -> dict[str, Any]:
    """``ssl-default-bind-options`` / ``-server-options`` words as options."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("ssl-min-ver", "ssl-max-ver"):
            if i + 1 >= len(words):
                raise TlsError(f"'{w}' : missing the version")
            out[w] = check_version(words[i + 1])
            i += 2
            continue
        if w not in _DEFAULT_FLAGS:
            raise TlsError(f"unknown option '{w}'.")
        out[w] = True
        i += 1
    return out


def dh_size(material: Material, param: int) -> int:
    """The size of the DH parameters HAProxy 2.6 uses for a certificate under
    ``tune.ssl.default-dh-param <param>`` (configuration.txt §3.2; its
    ``ssl_get_tmp_dh``): the RSA/DSA key's size, or ``param`` for an EC key,
    at most ``param``, then rounded down to 4096, 2048 or 1024 bits."""
    key = material.cert.public_key()
    if isinstance(key, (rsa.RSAPublicKey, dsa.DSAPublicKey)):
        bits = key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        bits = param
    else:
        bits = 0
    bits = min(bits, param)
    return 4096 if bits >= 4096 else 2048 if bits >= 2048 else 1024


def _has_dh(material: Material) -> bool:
    """The certificate file carries its own DH parameters (HAProxy uses them
    before ``tune.ssl.default-dh-param``)."""
    try:
        with open(material.path, "rb") as f:
            return b"-----BEGIN DH PARAMETERS-----" in f.read()
    except OSError:
        return False


def load_dh_file(path: str) -> bool:
    """Whether ``path`` holds DH parameters OpenSSL takes
    (``ssl-dh-param-file``)."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_dh_params(path)
    except (OSError, ssl.SSLError, ValueError):
        return False
    return True


def _set_dh(
    ctx: ssl.SSLContext, material: Material, param: int | None, dh_file: str | None = None
) -> bool:
    """DHE parameters of one certificate's context, as HAProxy picks them:
    the certificate file's own, else ``ssl-dh-param-file``'s, else the
    predefined ones of ``tune.ssl.default-dh-param``'s size; without any,
    DHE ciphers are unavailable.  False when OpenSSL refused the parameters."""
    path = material.path if _has_dh(material) else dh_file
    if path:
        try:
            ctx.load_dh_params(path)
        except (OSError, ssl.SSLError, ValueError):
            return False
        return True
    if not param:
        return True
    return openssl.set_dh(ctx, dh_size(material, param))


def _apply(ctx: ssl.SSLContext, opts: dict[str, Any], fail: Callable[[str], TlsError]) -> None:
    """Settings shared by both sides; ``fail(text)`` makes the alert."""
    lo, hi = version_range(opts)
    ctx.minimum_version, ctx.maximum_version = lo, hi
    ciphers = opts.get("ciphers") or "DEFAULT"
    try:
        ctx.set_ciphers(ciphers)
    except ssl.SSLError:
        raise fail(f"unable to set SSL cipher list to '{ciphers}'") from None
    suites = opts.get("ciphersuites")
    if suites and not openssl.set_ciphersuites(ctx, suites):
        raise fail(f"unable to set TLS 1.3 cipher suites to '{suites}'")
    curves = opts.get("curves")
    if curves and not openssl.set_curves(ctx, curves):
        raise fail(f"unable to set SSL curves list to '{curves}'")
    ecdhe = opts.get("ecdhe")
    if ecdhe and not curves and not openssl.set_curves(ctx, ecdhe):
        raise fail(f"unable to set elliptic named curve to '{ecdhe}'")
    if opts.get("alpn"):
        ctx.set_alpn_protocols([p for p in str(opts["alpn"]).split(",") if p])
    if opts.get("no-tls-tickets"):
        ctx.options |= ssl.OP_NO_TICKET
    ca = opts.get("ca-file")
    if ca:
        ctx.load_verify_locations(cafile=ca)
        if server_side(ctx) and not opts.get("no-ca-names"):
            openssl.set_client_ca_names(ctx, ca)
    crl = opts.get("crl-file")
    if crl:
        ctx.load_verify_locations(cafile=crl)
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN


def server_side(ctx: ssl.SSLContext) -> bool:
    return ctx.protocol == ssl.PROTOCOL_TLS_SERVER


# crt-list line options set on each connection (versions, curves, verify):
# contexts of such a list get a client hello callback (pyhaproxy/tls/sni.py)
_PER_CONNECTION = frozenset(
    {"ssl-min-ver", "ssl-max-ver", "verify", "ciphers", "ciphersuites", "crl-file"}
)


class BindTLS:
    """The TLS side of one ``bind`` line: its certificates and options."""

    __slots__ = ("label", "where", "opts", "entries", "_ctx", "warnings", "line_options")

    def __init__(self, label: str, where: Any, opts: dict[str, Any]) -> None:
        self.label = label  # "bind ':9443'"
        self.where = where
        self.opts = opts
        # (material, per-line options, SNI filters, excluded names)
        self.entries: list[tuple[Material, dict, list[str], list[str]]] = []
        self.warnings: list[str] = []
        # (crt-list file, line number, option) of every per-line option
        self.line_options: list[tuple[str, int, str]] = []
        self._ctx: ssl.SSLContext | None = None

    def load(
        self,
        crt_base: str | None,
        now: datetime.datetime | None = None,
        ca_base: str | None = None,
    ) -> None:
        """Read ``crt`` and ``crt-list`` material, ``ca-file``, ``crl-file``
        (raises TlsError; ``ca-file`` errors carry HAProxy's two lines)."""
        for path in self.opts.get("crt", ()):
            for m in load_crt(path, now):
                self.entries.append((m, {}, [], []))
        if self.opts.get("crt-list"):
            try:
                for line in read_crt_list(self.opts["crt-list"], crt_base):
                    self._check_line(line, ca_base)
                    for m in load_crt(line.path, now):
                        self.entries.append((m, line.options, line.filters, line.excluded))
            except TlsError as exc:  # HAProxy prefixes the last line only
                *first, last = str(exc).split("\n")
                raise TlsError("\n".join([*first, f"'crt-list' : {last}"])) from None
        for key in ("ca-file", "crl-file"):
            if self.opts.get(key):
                load_ca_file(self.opts[key], f"'{key}' : unable to load {self.opts[key]}")
        check_verify(self.opts.get("verify") or "none")
        for key in ("ssl-min-ver", "ssl-max-ver"):
            if self.opts.get(key):
                check_version(self.opts[key])
        self.warnings = [w for m, *_ in self.entries for w in m.warnings]

    def _check_line(self, line: CrtListLine, ca_base: str | None) -> None:
        """Check one crt-list line's options (values, CA and CRL files; a
        relative file is under ``ca-base``) and note them."""
        opts = line.options
        for key in ("ca-file", "crl-file"):
            if opts.get(key):  # HAProxy's two lines, as for the bind's own
                path = str(opts[key])
                if ca_base and not os.path.isabs(path):
                    opts[key] = path = os.path.join(ca_base, path)
                load_ca_file(path, f"'{key}' : unable to load {opts[key]}")
        # bad values: HAProxy's words, without the file and line
        if "verify" in opts:
            check_verify(str(opts["verify"]))
        for key in ("ssl-min-ver", "ssl-max-ver"):
            if key in opts:
                check_version(str(opts[key]))
        for name in opts:
            self.line_options.append((self.opts["crt-list"], line.lineno, name))

    def enabled(self) -> bool:
        return bool(self.opts.get("ssl"))

    def dh_warnings(self, param: int | None) -> list[str]:
        """HAProxy's warnings for certificates whose DH parameters OpenSSL
        refuses (1024 bits under the default security level)."""
        out = []
        for material, *_ in self.entries:
            if not param or _has_dh(material) or dh_size(material, param) != 1024:
                continue
            if not openssl.set_dh(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), 1024):
                out.append(
                    "\n  unable to load default 1024 bits DH parameter for certificate "
                    f"'{material.path}'.\n  , DH ciphers won't be available."
                )
        return out

    def _settings(self, extra: dict[str, Any], line: dict | None = None) -> dict[str, Any]:
        opts: dict[str, Any] = default_options(list(extra.get("ssl-default-bind-options", ())))
        for key in ("ciphers", "ciphersuites", "curves"):
            if extra.get(f"ssl-default-bind-{key}"):
                opts[key] = extra[f"ssl-default-bind-{key}"]
        opts.update(self.opts)
        if line:
            opts.update(line)
        return opts

    def built(self) -> ssl.SSLContext:
        """The context built by the post-parse checks (``context()``)."""
        if self._ctx is None:
            raise TlsError(f"{self.label} at [{self.where}]: SSL context not built")
        return self._ctx

    def context(self, proxy: str, extra: dict[str, Any]) -> ssl.SSLContext:
        """The default context (first certificate), its ``sni_callback``
        selecting among the others; built once."""
        if self._ctx is not None:
            return self._ctx
        at = f"for {self.label} at [{self.where}]"
        if not self.entries:
            raise TlsError(f"Proxy '{proxy}': no SSL certificate specified {at} (use 'crt').")

        def fail(text: str) -> TlsError:
            return TlsError(f"Proxy '{proxy}': {text} {at}.")

        built: list[tuple[ssl.SSLContext, Material, list[str], list[str]]] = []
        for material, line, filters, excluded in self.entries:
            opts = self._settings(extra, line)
            if opts.get("verify", "none") != "none" and not opts.get("ca-file"):
                raise fail("verify is enabled but no CA file specified")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(material.path, material.keyfile)
            openssl.set_no_auto_chain(ctx)
            _apply(ctx, opts, fail)
            ctx.verify_mode = _CERT_REQS[opts.get("verify") or "none"]
            if opts.get("prefer-client-ciphers"):
                ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
            _set_dh(
                ctx,
                material,
                extra.get("tune.ssl.default-dh-param"),
                extra.get("ssl-dh-param-file"),
            )
            # HAProxy's defaults: 20000 sessions, 300 s (configuration.txt §3.2)
            openssl.set_session_cache(ctx, extra.get("tune.ssl.cachesize", 20000), 300)
            built.append((ctx, material, filters, excluded))
        default = built[0][0]
        selector = SniSelector(default, bool(self._settings(extra).get("strict-sni")))
        lines = [line for _, line, *_ in self.entries]
        per_connection = any(_PER_CONNECTION.intersection(line) for line in lines)
        first = self._settings(extra, lines[0])
        for (ctx, material, filters, excluded), line in zip(built, lines, strict=True):
            selector.add(ctx, filters or material.names, excluded)
            if not per_connection:
                continue
            opts = self._settings(extra, line)
            # cipher lists too are copied into each connection when created
            ciphers, suites = (
                (opts.get(k) or fallback) if opts.get(k) != first.get(k) else None
                for k, fallback in (
                    ("ciphers", "DEFAULT"),
                    ("ciphersuites", openssl.DEFAULT_SUITES),
                )
            )
            # HAProxy 2.6 sets a line's curves on its SSL_CTX only: the
            # connection keeps the groups of the default one (observed)
            selector.connections[ctx] = openssl.Connection(ctx, ciphers, suites)
        selector.install()
        self._ctx = default
        return default


_SNI_STR = re.compile(r"str\((.*)\)")


class ReusingContext(ssl.SSLContext):
    """A client context that offers the session of the last completed
    handshake to its server again (HAProxy reuses a server's last session
    unless ``no-ssl-reuse``, configuration.txt §5.2 "no-ssl-reuse").
    uvloop creates each connection's ``SSLObject`` through ``wrap_bio``."""

    last: Any = None  # the SSLObject of the last established connection

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        last = self.last
        if session is None and last is not None:
            session = last.session  # a TLS 1.3 ticket arrives after the handshake
        return super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)


class ServerTLS:
    """The TLS side of one ``server`` line (``ssl verify ca-file crl-file
    crt sni alpn ciphers ...``)."""

    __slots__ = ("label", "where", "opts", "client_cert", "sni", "verifyhost", "_ctx")

    def __init__(self, label: str, where: Any, opts: dict[str, Any]) -> None:
        self.label = label  # "'server b/s'"
        self.where = where
        self.opts = opts
        self.client_cert: Material | None = None
        # (client transport) → SNI to send, or None
        self.sni: Callable[[Any], str | None] | None = None
        self.verifyhost: str | None = None  # checked in established()
        self._ctx: ssl.SSLContext | None = None

    @staticmethod
    def sni_supported(expr: str) -> bool:
        return bool(_SNI_STR.fullmatch(expr)) or expr == "ssl_fc_sni"

    def load(self, now: datetime.datetime | None = None) -> None:
        for key in ("ca-file", "crl-file"):
            if self.opts.get(key):
                load_ca_file(self.opts[key], f"'{key}' : unable to load {self.opts[key]}.")
        crt = self.opts.get("crt")
        if crt:  # the option table keeps every "crt" word: the last one counts
            self.client_cert = load_file(crt[-1] if isinstance(crt, list) else crt, now)
        verify = self.opts.get("verify")
        if verify and verify not in ("none", "required"):
            raise TlsError(
                f"'verify' : unknown verify method '{verify}', "
                "only 'none' and 'required' are supported"
            )
        for key in ("ssl-min-ver", "ssl-max-ver"):
            if self.opts.get(key):
                check_version(self.opts[key])
        expr = self.opts.get("sni")
        if expr:
            m = _SNI_STR.fullmatch(expr)
            if m:
                name = m.group(1)
                self.sni = lambda client, n=name: n
            elif expr == "ssl_fc_sni":
                self.sni = _client_sni

    def enabled(self) -> bool:
        return bool(self.opts.get("ssl")) and not self.opts.get("no-ssl")

    def verify(self, extra: dict[str, Any]) -> str:
        return self.opts.get("verify") or extra.get("ssl-server-verify") or "required"

    def built(self) -> ssl.SSLContext:
        """The context built by the post-parse checks (``context()``)."""
        if self._ctx is None:
            raise TlsError(f"[{self.where}] : {self.label} : SSL context not built")
        return self._ctx

    def context(self, extra: dict[str, Any]) -> ssl.SSLContext:
        if self._ctx is not None:
            return self._ctx
        opts: dict[str, Any] = default_options(list(extra.get("ssl-default-server-options", ())))
        for key in ("ciphers", "ciphersuites"):
            if extra.get(f"ssl-default-server-{key}"):
                opts[key] = extra[f"ssl-default-server-{key}"]
        opts.update(self.opts)
        verify = self.verify(extra)
        if verify == "required" and not opts.get("ca-file"):
            how = "" if self.opts.get("verify") else " by default"
            raise TlsError(
                f"[{self.where}] : {self.label} : verify is enabled{how} but no CA file "
                "specified. If you're running on a LAN where you're certain to trust the "
                "server's certificate, please set an explicit 'verify none' statement on the "
                "'server' line, or use 'ssl-server-verify none' in the global section to "
                "disable server-side verifications by default."
            )

        def fail(text: str) -> TlsError:
            return TlsError(f"[{self.where}] : {self.label} : {text}.")

        reuse = not opts.get("no-ssl-reuse")
        ctx = (ReusingContext if reuse else ssl.SSLContext)(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        _apply(ctx, opts, fail)
        if verify == "required":
            ctx.verify_mode = ssl.CERT_REQUIRED
            # HAProxy 2.6 checks the certificate's names against the SNI sent,
            # else against "verifyhost" (configuration.txt §5.2 "verifyhost")
            ctx.check_hostname = self.sni is not None
            if opts.get("verifyhost") and self.sni is None:
                self.verifyhost = str(opts["verifyhost"]).lower()
        if self.client_cert is not None:
            ctx.load_cert_chain(self.client_cert.path, self.client_cert.keyfile)
        self._ctx = ctx
        return ctx

    def established(self, transport: Any) -> None:
        """A connection's handshake completed: its session is the one to
        offer next (``ReusingContext``)."""
        obj = transport.get_extra_info("ssl_object")
        if self.verifyhost is not None and not host_matches(obj.getpeercert(), self.verifyhost):
            transport.abort()
            raise ssl.SSLCertVerificationError(
                f"certificate does not match verifyhost '{self.verifyhost}'"
            )
        ctx = self._ctx
        if isinstance(ctx, ReusingContext):
            ctx.last = obj

    def server_hostname(self, client: Any, host: str) -> str | None:
        """What to pass as ``server_hostname``: the SNI when one is
        configured, else the address itself (an IP address sends no SNI)."""
        if self.sni is not None:
            name = self.sni(client)
            if name:
                return name
        return host


def host_matches(cert: dict | None, host: str) -> bool:
    """``verifyhost``: a SAN DNS name or the CN equals ``host``, or is a
    wildcard ``*.rest`` where ``host`` is one label then ``.rest``."""
    if not cert:
        return False
    names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
    names += [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
    for name in names:
        name = name.lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host[host.index(".") :] == name[1:]:
            return True
    return False


def _client_sni(client: Any) -> str | None:
    obj = client.get_extra_info("ssl_object") if client is not None else None
    return getattr(obj, "sni", None) if obj is not None else None  # set by tls.sni


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
