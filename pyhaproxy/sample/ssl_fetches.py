"""TLS sample fetches of the client connection (configuration.txt §7.3.4
"Fetching samples at Layer 5": ``ssl_fc``, ``ssl_fc_sni``,
``ssl_fc_protocol``, ``ssl_fc_cipher``, ``ssl_fc_alpn``, ``ssl_c_used``,
``ssl_c_verify``, ``ssl_c_s_dn``, ``ssl_c_i_dn``).

They read the ``ssl_object`` of the client transport only when a rule or a
log format evaluates them (``RequestView.conn``); the client certificate is
parsed by ``cryptography`` only for the ``_dn`` fetches, at most once per
connection: its subject and issuer entries are kept on the ``SSLObject``
(``_peer_dns``) for the connection's next requests.  A connection without
TLS gives no sample (``ssl_fc`` gives 0)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from pyhaproxy.sample.fetch import FETCHES, Fetch

__all__ = ["SSL_FETCHES", "client_sni", "dn_oneline", "log_sslc", "log_sslv", "ssl_object"]

# OpenSSL short names (HAProxy prints X509_NAME entries with OBJ_nid2sn)
_SHORT = {
    NameOID.COMMON_NAME: "CN",
    NameOID.COUNTRY_NAME: "C",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.USER_ID: "UID",
    NameOID.GIVEN_NAME: "GN",
    NameOID.SURNAME: "SN",
    NameOID.TITLE: "title",
}


def ssl_object(conn: Any) -> Any:
    """The ``ssl.SSLObject`` of a transport, or None."""
    return conn.get_extra_info("ssl_object") if conn is not None else None


def client_sni(obj: Any) -> str | None:
    """The server name the client asked for (recorded by pyhaproxy.tls.sni)."""
    return getattr(obj, "sni", None)


def _name(attr: x509.NameAttribute) -> str:
    return _SHORT.get(attr.oid) or attr.oid.dotted_string


def dn_oneline(name: x509.Name) -> str:
    """HAProxy's default DN format: ``/C=FR/O=Org/CN=name``."""
    return "".join(f"/{_name(a)}={a.value}" for rdn in name.rdns for a in rdn)


# per side ("s", "i"): the DN in HAProxy's format and its (short name, value) entries
_Dns = dict[str, tuple[str, list[tuple[str, str]]]]


def _entries(name: x509.Name) -> tuple[str, list[tuple[str, str]]]:
    return dn_oneline(name), [(_name(a), str(a.value)) for rdn in name.rdns for a in rdn]


def _peer_dns(obj: Any) -> _Dns | None:
    """The peer certificate's subject and issuer, parsed on the first call
    for a connection and then kept on its ``SSLObject``."""
    if obj is None:
        return None
    try:
        return obj._peer_dns
    except AttributeError:
        pass
    der = obj.getpeercert(binary_form=True)
    dns: _Dns | None = None
    if der:
        cert = x509.load_der_x509_certificate(der)
        dns = {"s": _entries(cert.subject), "i": _entries(cert.issuer)}
    obj._peer_dns = dns
    return dns


def _obj(fn: Callable[[Any], list[Any]]) -> Callable[[str | None], Callable[[Any], list[Any]]]:
    """A fetch reading the client ``SSLObject`` (no sample without TLS)."""

    def build(arg: str | None) -> Callable[[Any], list[Any]]:
        def fetch(v: Any) -> list[Any]:
            obj = ssl_object(v.conn)
            return [] if obj is None else fn(obj)

        return fetch

    return build


def _ssl_fc(arg: str | None) -> Callable[[Any], list[Any]]:
    return lambda v: [1 if ssl_object(v.conn) is not None else 0]


def _dn(which: str) -> Callable[[str | None], Callable[[Any], list[Any]]]:
    """``ssl_c_s_dn([<entry>[,<occ>]])``: the whole DN, or one entry
    (``<occ>``: 1 first, -1 last, as HAProxy)."""

    def build(arg: str | None) -> Callable[[Any], list[Any]]:
        entry, occ = None, -1
        if arg:
            parts = arg.split(",")
            entry = parts[0]
            if len(parts) > 1 and parts[1]:
                occ = int(parts[1])

        def fetch(v: Any) -> list[Any]:
            dns = _peer_dns(ssl_object(v.conn))
            if dns is None:
                return []
            oneline, entries = dns[which]
            if entry is None:
                return [oneline]
            values = [value for short, value in entries if short == entry]
            try:
                return [values[occ - 1 if occ > 0 else occ]]
            except IndexError:
                return []

        return fetch

    return build


SSL_FETCHES: dict[str, Fetch] = {
    "ssl_fc": Fetch(_ssl_fc, "", 4, "bool"),
    "ssl_fc_sni": Fetch(_obj(lambda o: [s] if (s := client_sni(o)) else []), "", 4, "str"),
    "ssl_fc_protocol": Fetch(_obj(lambda o: [o.version()]), "", 4, "str"),
    "ssl_fc_cipher": Fetch(_obj(lambda o: [o.cipher()[0]]), "", 4, "str"),
    "ssl_fc_alpn": Fetch(
        _obj(lambda o: [p] if (p := o.selected_alpn_protocol()) else []), "", 4, "str"
    ),
    "ssl_c_used": Fetch(
        _obj(lambda o: [1 if o.getpeercert(binary_form=True) else 0]), "", 4, "bool"
    ),
    # the handshake fails on a certificate that does not verify (no
    # crt-ignore-err / ca-ignore-err), so an established connection has 0
    "ssl_c_verify": Fetch(_obj(lambda o: [0]), "", 4, "int"),
    "ssl_fc_is_resumed": Fetch(_obj(lambda o: [1 if o.session_reused else 0]), "", 4, "bool"),
    # errors of an established connection (handshake failures close it)
    "ssl_fc_err": Fetch(_obj(lambda o: [0]), "", 4, "int"),
    "ssl_c_err": Fetch(_obj(lambda o: [0]), "", 4, "int"),
    "ssl_c_ca_err": Fetch(_obj(lambda o: [0]), "", 4, "int"),
    "ssl_c_s_dn": Fetch(_dn("s"), "opt", 4, "str"),
    "ssl_c_i_dn": Fetch(_dn("i"), "opt", 4, "str"),
}
FETCHES.update(SSL_FETCHES)


def log_sslv(transport: Any) -> str | None:
    """``%sslv`` (configuration.txt §8.2.4): the TLS version, or None."""
    obj = ssl_object(transport)
    return obj.version() if obj is not None else None


def log_sslc(transport: Any) -> str | None:
    """``%sslc``: the cipher name, or None."""
    obj = ssl_object(transport)
    return obj.cipher()[0] if obj is not None else None
