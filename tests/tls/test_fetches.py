"""TLS sample fetches over a fake transport (configuration.txt §7.3.4), and
the ``bool``/``int`` matches they use, without sockets."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from pyhaproxy.sample import RequestView, compile_condition
from pyhaproxy.sample.ssl_fetches import dn_oneline, log_sslc, log_sslv
from tests.tls.pki import Pki


class FakeSSL:
    def __init__(self, der: bytes | None) -> None:
        self.der = der
        self.sni = "www.exact.test"
        self.session_reused = False

    def version(self) -> str:
        return "TLSv1.3"

    def cipher(self) -> tuple[str, str, int]:
        return ("TLS_AES_256_GCM_SHA384", "TLSv1.3", 256)

    def selected_alpn_protocol(self) -> str | None:
        return "http/1.1"

    def getpeercert(self, binary_form: bool = False) -> bytes | None:
        return self.der


class FakeTransport:
    def __init__(self, obj: FakeSSL | None) -> None:
        self.obj = obj

    def get_extra_info(self, name: str):
        return self.obj if name == "ssl_object" else None


def _test(words: list[str]):
    neg = ["!"] if words[0] == "!" else []
    return compile_condition(["if", *neg, "{", *words[len(neg) :], "}"], {}).test


def test_fetches(tmp_path):
    pki = Pki(tmp_path)
    client = pki.issue("client-good", client=True).cert
    der = client.public_bytes(serialization.Encoding.DER)
    tls = RequestView(b"GET / HTTP/1.1\r\n\r\n", None, FakeTransport(FakeSSL(der)))
    anon = RequestView(b"GET / HTTP/1.1\r\n\r\n", None, FakeTransport(FakeSSL(None)))
    plain = RequestView(b"GET / HTTP/1.1\r\n\r\n", None, FakeTransport(None))
    cases = {
        ("ssl_fc",): (True, True, False),
        ("!", "ssl_fc"): (False, False, True),
        ("ssl_c_used",): (True, False, False),
        ("ssl_c_verify", "0"): (True, True, False),
        ("ssl_c_verify", "1:"): (False, False, False),
        ("ssl_fc_sni", "www.exact.test"): (True, True, False),
        ("ssl_fc_protocol", "TLSv1.3"): (True, True, False),
        ("ssl_fc_cipher", "-m", "beg", "TLS_AES_256"): (True, True, False),
        ("ssl_fc_alpn", "http/1.1"): (True, True, False),
        ("ssl_c_s_dn(CN)", "client-good"): (True, False, False),
        ("ssl_c_i_dn", "/C=FR/O=pyhaproxy tests/CN=Test CA"): (True, False, False),
        ("ssl_fc_is_resumed",): (False, False, False),
    }
    for words, expect in cases.items():
        test = _test(list(words))
        assert (test(tls), test(anon), test(plain)) == expect, words
    assert dn_oneline(client.subject) == "/C=FR/O=pyhaproxy tests/CN=client-good"
    assert log_sslv(tls.conn) == "TLSv1.3" and log_sslc(tls.conn) == "TLS_AES_256_GCM_SHA384"
    assert log_sslv(plain.conn) is None and log_sslv(None) is None


def test_dn_parsed_once_per_connection(tmp_path):
    """``ssl_c_s_dn``/``ssl_c_i_dn``: the certificate is decoded on the first
    evaluation of a connection only (no certificate work while serving)."""
    pki = Pki(tmp_path)
    der = pki.issue("client-good", client=True).cert.public_bytes(serialization.Encoding.DER)

    class Counting(FakeSSL):
        calls = 0

        def getpeercert(self, binary_form: bool = False) -> bytes | None:
            Counting.calls += 1
            return super().getpeercert(binary_form)

    conn = FakeTransport(Counting(der))
    tests = [
        _test(["ssl_c_s_dn(CN)", "client-good"]),
        _test(["ssl_c_s_dn", "/C=FR/O=pyhaproxy tests/CN=client-good"]),
        _test(["ssl_c_i_dn(O)", "pyhaproxy tests"]),
        _test(["ssl_c_i_dn(CN,1)", "Test CA"]),
    ]
    for _ in range(3):  # three requests of one connection
        view = RequestView(b"GET / HTTP/1.1\r\n\r\n", None, conn)
        assert all(t(view) for t in tests)
    assert Counting.calls == 1
    anon = FakeTransport(Counting(None))
    for _ in range(2):
        assert not tests[0](RequestView(b"GET / HTTP/1.1\r\n\r\n", None, anon))
    assert Counting.calls == 2
