"""A throw-away PKI generated with cryptography at test time: a CA, server
certificates (CN, SAN, wildcard), an expired and a not-yet-valid one, client
certificates (one revoked) and a CRL, written as HAProxy-style PEM files."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str, org: str = "pyhaproxy tests") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def pem(self) -> bytes:
        return cert_pem(self.cert) + key_pem(self.key)


class Pki:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.ca_key = _key()
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(_name("Test CA"))
            .issuer_name(_name("Test CA"))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY)
            .not_valid_after(NOW + 30 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.write("ca.pem", cert_pem(self.ca))

    def write(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path

    def issue(
        self,
        cn: str,
        sans: tuple[str, ...] = (),
        client: bool = False,
        before: datetime.datetime | None = None,
        after: datetime.datetime | None = None,
        issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
        rsa_bits: int | None = None,
    ) -> Issued:
        key = rsa.generate_private_key(65537, rsa_bits) if rsa_bits else _key()
        ica, ikey = issuer or (self.ca, self.ca_key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(ica.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(before or NOW - DAY)
            .not_valid_after(after or NOW + 10 * DAY)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ikey.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
            )
        return Issued(builder.sign(ikey, hashes.SHA256()), key)

    def crl(self, revoked: list[x509.Certificate]) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.subject)
            .last_update(NOW - DAY)
            .next_update(NOW + 10 * DAY)
        )
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(NOW - DAY)
                .build()
            )
        return builder.sign(self.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def make_pki(root: Path) -> Pki:
    """Every file the TLS tests use, under ``root``."""
    pki = Pki(root)
    pki.write("default.pem", pki.issue("default.test").pem)
    pki.write("exact.pem", pki.issue("www.exact.test", ("www.exact.test", "alt.exact.test")).pem)
    pki.write("wild.pem", pki.issue("*.wild.test", ("*.wild.test",)).pem)
    pki.write("expired.pem", pki.issue("expired.test", after=NOW - DAY, before=NOW - 3 * DAY).pem)
    pki.write("future.pem", pki.issue("future.test", before=NOW + 3 * DAY).pem)
    # certificate and key in separate files (HAProxy's "<crt>.key")
    split = pki.issue("split.test", ("split.test",))
    pki.write("split.pem", cert_pem(split.cert))
    pki.write("split.pem.key", key_pem(split.key))
    pki.write("nokey.pem", cert_pem(pki.issue("nokey.test").cert))
    other = pki.issue("mismatch.test")
    pki.write("mismatch.pem", cert_pem(other.cert) + key_pem(_key()))
    pki.write(
        "garbage.pem", b"-----BEGIN CERTIFICATE-----\nnot base64 !\n-----END CERTIFICATE-----\n"
    )
    # a chain: leaf issued by an intermediate, with and without the intermediate
    ikey = _key()
    inter = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Intermediate"))
        .issuer_name(pki.ca.subject)
        .public_key(ikey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 20 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(pki.ca_key, hashes.SHA256())
    )
    leaf = pki.issue("chain.test", ("chain.test",), issuer=(inter, ikey))
    pki.write("chain.pem", leaf.pem + cert_pem(inter))
    unrelated = pki.issue("unrelated.test")
    pki.write("badchain.pem", leaf.pem + cert_pem(unrelated.cert))
    good = pki.issue("client-good", client=True)
    bad = pki.issue("client-revoked", client=True)
    pki.write("client.pem", good.pem)
    pki.write("client-revoked.pem", bad.pem)
    pki.write("crl.pem", pki.crl([bad.cert]))
    stranger = Pki(root / "stranger")
    pki.write("client-stranger.pem", stranger.issue("client-stranger", client=True).pem)
    pki.write("server-stranger.pem", stranger.issue("www.exact.test", ("www.exact.test",)).pem)
    d = root / "dir"
    d.mkdir(exist_ok=True)
    (d / "a-default.pem").write_bytes(pki.issue("dir-a.test", ("dir-a.test",)).pem)
    (d / "b.pem").write_bytes(pki.issue("dir-b.test", ("dir-b.test",)).pem)
    return pki
