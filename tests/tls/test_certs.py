"""Certificate material checks, crt-list reading, SNI selection and version
ranges, without sockets (pyhaproxy/tls)."""

from __future__ import annotations

import ssl

import pytest

from pyhaproxy.tls.certs import TlsError, load_ca_file, load_crt, load_file
from pyhaproxy.tls.context import BindTLS, ServerTLS, default_options
from pyhaproxy.tls.crtlist import read_crt_list
from pyhaproxy.tls.sni import SniSelector
from pyhaproxy.tls.versions import version_range


def test_names_san_then_cn(pki_dir):
    m = load_file(str(pki_dir / "exact.pem"))
    assert m.names == ["www.exact.test", "alt.exact.test"]
    assert m.keyfile is None and m.warnings == []


def test_key_beside_certificate(pki_dir):
    m = load_file(str(pki_dir / "split.pem"))
    assert m.keyfile == str(pki_dir / "split.pem.key")


@pytest.mark.parametrize(
    "name, message",
    [
        ("nokey.pem", "No Private Key found in '{p}.key'."),
        ("mismatch.pem", "inconsistencies between private key and certificate loaded '{p}'."),
        ("garbage.pem", "unable to load certificate from file '{p}'."),
        ("ca.pem", "No Private Key found in '{p}.key'."),
        (
            "missing.pem",
            "unable to stat SSL certificate from file '{p}' : No such file or directory.",
        ),
    ],
)
def test_material_alerts(pki_dir, name, message):
    path = str(pki_dir / name)
    with pytest.raises(TlsError) as err:
        load_crt(path)
    assert str(err.value) == message.format(p=path)


def test_unreadable_key(pki_dir, tmp_path):
    crt = tmp_path / "k.pem"
    crt.write_bytes(
        (pki_dir / "nokey.pem").read_bytes()
        + b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(TlsError, match="unable to load SSL private key from PEM file"):
        load_file(str(crt))


@pytest.mark.parametrize(
    "name, warning",
    [
        ("expired.pem", "has expired since"),
        ("future.pem", "is not valid before"),
        ("badchain.pem", "broken chain"),
    ],
)
def test_material_warnings(pki_dir, name, warning):
    (m,) = load_crt(str(pki_dir / name))
    assert len(m.warnings) == 1 and warning in m.warnings[0]


def test_good_chain(pki_dir):
    assert load_file(str(pki_dir / "chain.pem")).warnings == []


def test_directory_in_lexical_order(pki_dir):
    (pki_dir / "dir" / "b.pem.key").write_text("ignored")
    names = [m.names[0] for m in load_crt(str(pki_dir / "dir"))]
    assert names == ["dir-a.test", "dir-b.test"]


def test_ca_file(pki_dir):
    assert load_ca_file(str(pki_dir / "ca.pem"), "x") == str(pki_dir / "ca.pem")
    load_ca_file(str(pki_dir / "crl.pem"), "x")
    with pytest.raises(TlsError, match=r"\(bad base64 decode\)\.\nwhat"):
        load_ca_file(str(pki_dir / "garbage.pem"), "what")


def test_crt_list(tmp_path):
    path = tmp_path / "list"
    path.write_text(
        "# comment\n\na.pem\n/abs/b.pem [alpn h2,http/1.1 verify none] *.w.test !x.w.test\n"
    )
    lines = read_crt_list(str(path), "/base")
    assert [ln.path for ln in lines] == ["/base/a.pem", "/abs/b.pem"]
    assert lines[1].options == {"alpn": "h2,http/1.1", "verify": "none"}
    assert lines[1].filters == ["*.w.test"] and lines[1].excluded == ["x.w.test"]
    path.write_text("a.pem [bogus]\n")
    with pytest.raises(TlsError, match="unknown keyword 'bogus'"):
        read_crt_list(str(path))


def test_sni_selector():
    a, b, c = (ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER) for _ in range(3))
    sel = SniSelector(a)
    sel.add(a, ["default.test"])
    sel.add(b, ["*.wild.test"], ["no.wild.test"])
    sel.add(c, ["www.wild.test"])
    assert sel.find("WWW.wild.test") is c
    assert sel.find("x.wild.test") is b
    assert sel.find("no.wild.test") is None
    assert sel.find("wild.test") is None and sel.find("a.b.wild.test") is None


class _Obj:
    context = None


def test_strict_sni_alerts():
    a = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sel = SniSelector(a, strict=True)
    sel.add(a, ["known.test"])
    obj = _Obj()
    assert sel(obj, None, a) == ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
    assert sel(obj, "other.test", a) == ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    assert sel(obj, "known.test", a) is None and obj.sni == "known.test"


def test_versions():
    v = ssl.TLSVersion
    assert version_range({}) == (v.TLSv1_2, v.TLSv1_3)
    assert version_range({"ssl-max-ver": "TLSv1.2"}) == (v.TLSv1_2, v.TLSv1_2)
    assert version_range({"ssl-min-ver": "TLSv1.3"}) == (v.TLSv1_3, v.TLSv1_3)
    assert version_range({"no-tlsv12": True}) == (v.TLSv1_3, v.TLSv1_3)
    assert version_range({"force-tlsv12": True}) == (v.TLSv1_2, v.TLSv1_2)
    with pytest.raises(TlsError):
        version_range({"no-tlsv12": True, "no-tlsv13": True})
    assert default_options(["ssl-min-ver", "TLSv1.3", "no-tls-tickets"]) == {
        "ssl-min-ver": "TLSv1.3",
        "no-tls-tickets": True,
    }


def test_bind_contexts(pki_dir):
    tls = BindTLS(
        "bind ':1'",
        "f:1",
        {
            "ssl": True,
            "crt": [str(pki_dir / "default.pem")],
            "alpn": "http/1.1",
            "no-tls-tickets": True,
        },
    )
    tls.load(None)
    ctx = tls.context("fe", {"ssl-default-bind-ciphers": "ECDHE+AESGCM"})
    assert ctx is tls.built() is tls.context("fe", {})
    assert ctx.options & ssl.OP_NO_TICKET
    assert all("GCM" in c["name"] or c["name"].startswith("TLS_") for c in ctx.get_ciphers())
    assert ctx.verify_mode == ssl.CERT_NONE


def test_server_context(pki_dir):
    opts = {"ssl": True, "ca-file": str(pki_dir / "ca.pem"), "sni": "str(www.exact.test)"}
    tls = ServerTLS("'server b/s'", "f:2", opts)
    tls.load()
    ctx = tls.context({})
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert tls.server_hostname(None, "127.0.0.1") == "www.exact.test"
    none = ServerTLS("'server b/t'", "f:3", {"ssl": True})
    none.load()
    assert none.context({"ssl-server-verify": "none"}).verify_mode == ssl.CERT_NONE
    with pytest.raises(TlsError, match="verify is enabled by default"):
        ServerTLS("'server b/u'", "f:4", {"ssl": True}).context({})
