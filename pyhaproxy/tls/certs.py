"""Certificate material read and checked at configuration time
(configuration.txt §5.1 "crt": "a PEM file containing both the required
certificates and any associated private keys ... If a directory name is
used instead of a PEM file, then all files found in that directory will be
loaded ... unless their name ends with '.key', '.issuer', '.ocsp' or '.sctl'").

A file holds the certificate, then optionally its chain and its key; a key
missing from it is read from ``<file>.key``.  Alerts are HAProxy 2.6's
wording; what HAProxy accepts silently (expired, not yet valid, broken
chain) is reported as a warning with the same verdict.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

__all__ = ["Material", "TlsError", "load_crt", "load_ca_file", "names_of"]

_SKIPPED = (".key", ".issuer", ".ocsp", ".sctl")
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.S)


class TlsError(Exception):
    """A configuration alert about TLS material; ``str()`` is HAProxy's text."""


@dataclass(slots=True)
class Material:
    """One certificate: where its PEM lives, the names it serves (SAN DNS
    names and CN, as HAProxy indexes them for SNI) and warnings found."""

    path: str
    keyfile: str | None  # None: the key is in ``path``
    cert: x509.Certificate
    names: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def names_of(cert: x509.Certificate) -> list[str]:
    """The names a certificate is selected by, lower-cased: SAN DNS names
    then the CN (HAProxy's ``ssl_sock_load_cert_sni``)."""
    out: list[str] = []
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        out.extend(n.lower() for n in san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attr.value if isinstance(attr.value, str) else attr.value.decode("latin-1")
        if value.lower() not in out:
            out.append(value.lower())
    return out


def _blocks(data: bytes) -> tuple[list[bytes], list[bytes]]:
    certs, keys = [], []
    for m in _PEM.finditer(data):
        kind = m.group(1)
        if kind in (b"CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CERTIFICATE"):
            certs.append(m.group(0))
        elif kind.endswith(b"PRIVATE KEY"):
            keys.append(m.group(0))
    return certs, keys


def _public_equal(key, cert: x509.Certificate) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return key.public_key().public_bytes(der, fmt) == cert.public_key().public_bytes(der, fmt)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    pub = issuer.public_key()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                padding.PKCS1v15(),
                cert.signature_hash_algorithm,
            )
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(
                cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
            )
        elif isinstance(pub, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            pub.verify(cert.signature, cert.tbs_certificate_bytes)
        elif isinstance(pub, dsa.DSAPublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm)
        else:
            return True  # unknown algorithm: trust the names
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _validity(path: str, cert: x509.Certificate, now: datetime.datetime) -> list[str]:
    before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > after:
        return [f"certificate '{path}' has expired since {after:%Y-%m-%d %H:%M:%S} UTC."]
    if now < before:
        return [f"certificate '{path}' is not valid before {before:%Y-%m-%d %H:%M:%S} UTC."]
    return []


def _chain(path: str, leaf: x509.Certificate, chain: list[x509.Certificate]) -> list[str]:
    """Each certificate must be issued by the next one in the file."""
    cur = leaf
    for nxt in chain:
        if cur.issuer != nxt.subject or not _signed_by(cur, nxt):
            return [
                f"certificate '{path}': broken chain, "
                f"'{nxt.subject.rfc4514_string()}' did not issue "
                f"'{cur.subject.rfc4514_string()}'."
            ]
        cur = nxt
    return []


def load_file(path: str, now: datetime.datetime | None = None) -> Material:
    """Read and check one PEM file (and its ``.key``); raises TlsError."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise TlsError(
            f"unable to stat SSL certificate from file '{path}' : {exc.strerror}."
        ) from None
    cert_blocks, key_blocks = _blocks(data)
    try:
        certs = [x509.load_pem_x509_certificate(b) for b in cert_blocks]
    except ValueError:
        certs = []
    if not certs:
        raise TlsError(f"unable to load certificate from file '{path}'.")
    keyfile = None
    if not key_blocks:
        keyfile = path + ".key"
        try:
            with open(keyfile, "rb") as f:
                key_blocks = _blocks(f.read())[1]
        except OSError:
            key_blocks = []
        if not key_blocks:
            raise TlsError(f"No Private Key found in '{keyfile}'.")
    try:
        key = serialization.load_pem_private_key(key_blocks[0], password=None)
    except (ValueError, TypeError):
        raise TlsError(
            f"unable to load SSL private key from PEM file '{keyfile or path}'."
        ) from None
    leaf = certs[0]
    if not _public_equal(key, leaf):
        raise TlsError(f"inconsistencies between private key and certificate loaded '{path}'.")
    now = now or datetime.datetime.now(datetime.UTC)
    warnings = _validity(path, leaf, now) + _chain(path, leaf, certs[1:])
    return Material(path, keyfile, leaf, names_of(leaf), warnings)


def load_crt(path: str, now: datetime.datetime | None = None) -> list[Material]:
    """``crt <cert|dir>``: one file, or every file of a directory in
    lexical order (HAProxy's scandir + alphasort)."""
    if not os.path.exists(path):
        raise TlsError(
            f"unable to stat SSL certificate from file '{path}' : No such file or directory."
        )
    if not os.path.isdir(path):
        return [load_file(path, now)]
    out = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if name.endswith(_SKIPPED) or not os.path.isfile(full):
            continue
        out.append(load_file(full, now))
    return out


def load_ca_file(path: str, what: str) -> str:
    """``ca-file``/``crl-file``: PEM that must parse.  Returns ``path``;
    raises TlsError with HAProxy's two alerts (``\\n``-separated)."""
    reason = ""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        reason = exc.strerror or "error"
    else:
        found = 0
        for m in _PEM.finditer(data):
            kind = m.group(1)
            try:
                if kind == b"X509 CRL":
                    x509.load_pem_x509_crl(m.group(0))
                elif kind in (b"CERTIFICATE", b"TRUSTED CERTIFICATE"):
                    x509.load_pem_x509_certificate(m.group(0))
                else:
                    continue
            except ValueError:
                reason = "bad base64 decode"
                break
            found += 1
        if not reason and not found:
            reason = "no certificate or crl found"
    if reason:
        raise TlsError(f"Couldn't open the ca-file '{path}' ({reason}).\n{what}")
    return path
