"""Pure parts of logging: syslog headers, the log-format compiler, targets."""

from __future__ import annotations

import os
import socket
import time
from types import SimpleNamespace as NS

import pytest

from pyhaproxy.log.logformat import HTTPLOG, HTTPLOG_CLF, TCPLOG, FormatError, compile_format
from pyhaproxy.log.syslog import bsd_date, header
from pyhaproxy.log.target import Target, TargetError, parse_sample

WALL = 1764079315.605  # 2025-11-25 14:01:55.605 UTC


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class _T:
    """A plain TCP client transport: addresses, no TLS."""

    def get_extra_info(self, key):
        return {"peername": ("127.0.0.1", 39110), "sockname": ("127.0.0.1", 25580)}.get(key)


def _stream(**kw):
    srv = NS(name="s1", cur=0, host="127.0.0.1", port=25581)
    base = dict(
        transport=_T(),
        fe=NS(name="fe", mode="http"),
        be=NS(name="be", servers=[srv], retries=3, c=NS(scur=0)),
        log_srv=srv,
        t_accept=100.0,
        t_request=100.0,
        t_head=100.0,
        t_queue=100.0,
        t_connect=100.0,
        t_response=100.006,
        status=404,
        bytes_in=80,
        bytes_out=500,
        term="",
        tries=0,
        queued=0,
        req_head=b"GET /foo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:25580\r\n\r\n",
        rsp_head=b"HTTP/1.0 404 NF\r\nServer: SimpleHTTP/0.6 Python/3.11\r\n\r\n",
        listener=None,
    )
    base.update(kw)
    return NS(**base)


L = NS(
    wall0=WALL - 100,
    host="",
    pid=4930,
    log_count=1,
    actconn=lambda: 1,
    feconn=lambda s: 1,
    beconn=lambda s: 0,
    unique_id=lambda s: "UID-1",
)


# ---- syslog headers (lines captured from Debian's haproxy 2.6) --------------------


def test_headers_as_haproxy():
    assert (
        header("rfc3164", 134, 6, WALL, "haproxy", 4930) == "<134>Nov 25 14:01:55 haproxy[4930]: "
    )
    assert (
        header("local", 150, 6, WALL, "haproxy", 4930, "h")
        == "<150>Nov 25 14:01:55 haproxy[4930]: "
    )
    assert (
        header("rfc3164", 134, 6, WALL, "haproxy", 4930, "lb1")
        == "<134>Nov 25 14:01:55 lb1 haproxy[4930]: "
    )
    assert (
        header("rfc5424", 142, 6, WALL, "haproxy", 4930)
        == "<142>1 2025-11-25T14:01:55.605000+00:00 - haproxy 4930 - - "
    )
    assert header("short", 150, 6, WALL, "haproxy", 1) == "<6>"
    assert header("priority", 150, 6, WALL, "haproxy", 1) == "<150>"
    assert header("timed", 150, 6, WALL, "haproxy", 1) == "<6>2025-11-25T14:01:55.605000+00:00 "
    assert header("iso", 150, 6, WALL, "haproxy", 1) == "2025-11-25T14:01:55.605000+00:00 "
    assert header("raw", 150, 6, WALL, "haproxy", 1) == ""


def test_bsd_date_pads_day_with_space():
    assert bsd_date(WALL - 20 * 86400) == "Nov  5 14:01:55"


# ---- log-format ----------------------------------------------------------------


def test_httplog_line():
    render = compile_format(HTTPLOG, (("host", 20),), (("server", 20),))
    assert render(_stream(), L, 100.006) == (
        "127.0.0.1:39110 [25/Nov/2025:14:01:55.605] fe be/s1 0/0/0/6/6 404 511 - - ---- "
        '1/1/0/0/0 0/0 {127.0.0.1:25580} {SimpleHTTP/0.6 Pytho} "GET /foo?x=1 HTTP/1.1"'
    )


def test_httplog_without_captures_has_no_braces():
    line = compile_format(HTTPLOG)(_stream(), L, 100.006)
    assert line.endswith('1/1/0/0/0 0/0 "GET /foo?x=1 HTTP/1.1"')


def test_clf_line():
    assert compile_format(HTTPLOG_CLF)(_stream(), L, 100.006) == (
        '127.0.0.1 - - [25/Nov/2025:14:01:55 +0000] "GET /foo?x=1 HTTP/1.1" 404 511 "" "" '
        '39110 605 "fe" "be" "s1" 0 0 0 6 6 ---- 1 1 0 0 0 0 0 "" "" '
    )


def test_tcplog_line():
    s = _stream(term="sD", t_request=0.0, t_head=0.0, req_head=None, rsp_head=None)
    s.fe.mode = "tcp"
    assert compile_format(TCPLOG)(s, L, 100.010) == (
        "127.0.0.1:39110 [25/Nov/2025:14:01:55.605] fe be/s1 0/0/10 500 sD 1/1/0/0/0 0/0"
    )


def test_bytes_as_haproxy_counts_them():
    """%B and %U count HAProxy's HTX sizes (figures from Debian's haproxy)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 22\r\nX-Srv: s1\r\n\r\n"
    s = _stream(rsp_head=head, bytes_out=len(head) + 22)
    req = b"GET /p/q?r=s HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n"
    s.req_head, s.bytes_in = req, len(req)
    assert compile_format("%B %U")(s, L, 100.0) == "79 55"


def test_missing_timers_and_server():
    s = _stream(t_queue=0.0, t_connect=0.0, t_response=0.0, log_srv=None, status=503, term="SC")
    assert compile_format("%Tw/%Tc/%Tr %s %ST %tsc")(s, L, 100.0) == "-1/-1/-1 <NOSRV> 503 SC--"


def test_request_parts_and_flags():
    render = compile_format("%HM|%HU|%HP|%HPO|%HQ|%HV|%{+Q}HM|%{+X}ci:%{+X}cp|%ID|%pid|%%")
    assert render(_stream(), L, 100.0) == (
        'GET|/foo?x=1|/foo|/foo|?x=1|HTTP/1.1|"GET"|7F000001:98C6|UID-1|4930|%'
    )


def test_escape_flag_and_encoding():
    s = _stream(req_head=b'GET /a"b\x01 HTTP/1.1\r\n\r\n')
    assert compile_format("%r")(s, L, 100.0) == "GET /a#22b#01 HTTP/1.1"
    s = _stream(req_head=b'GET /x]"y HTTP/1.1\r\n\r\n')
    assert compile_format("%{+E}HU")(s, L, 100.0) == '/x\\]\\"y'


def test_separators_collapse():
    assert compile_format("a  b   %ST")(_stream(), L, 100.0) == "a b 404"


def test_global_option_applies_to_following():
    assert compile_format("%{+Q}o %f %{-Q}b")(_stream(), L, 100.0) == '"fe" be'


def test_sample_expression():
    s = _stream(req_head=b"GET /P?x=1 HTTP/1.1\r\nHost: EX.org\r\n\r\n")
    assert compile_format("%[hdr(host),lower] %[path] %[src]")(s, L, 100.0) == "ex.org /P 127.0.0.1"


@pytest.mark.parametrize(
    ("fmt", "msg"),
    [
        ("%zz", "no such format variable 'zz'"),
        ("%", "no such format variable ''"),
        ("%{+Z}ci", "unknown variable flag"),
        ("%[nosuch]", "not implemented yet"),
        ("%[path,base64]", "converter 'base64' is not implemented yet"),
    ],
)
def test_bad_formats(fmt, msg):
    with pytest.raises(FormatError, match=msg):
        compile_format(fmt)


# ---- targets ----------------------------------------------------------------------


def test_sample_ranges():
    smp = parse_sample("1,3-4:5")
    assert [smp.take() for _ in range(10)] == [True, False, True, True, False] * 2
    with pytest.raises(TargetError):
        parse_sample("6:5")


def test_udp_target_levels_and_len():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2)
    port = rx.getsockname()[1]
    t = Target(("log", f"127.0.0.1:{port}", "len", "40", "local0", "notice", "err"))
    t.send(6, "info is above the max level", WALL, "haproxy", 1, "")
    t.send(1, "x" * 100, WALL, "haproxy", 1, "")
    data = rx.recv(1000)
    assert data.startswith(b"<131>Nov 25 14:01:55 haproxy[1]: xxx")  # alert capped to err
    assert len(data) == 40 and data.endswith(b"\n")
    assert t.sent == 1 and t.dropped == 0
    t.close()
    rx.close()


def test_unix_target_without_receiver_drops(tmp_path):
    path = str(tmp_path / "log.sock")
    t = Target(("log", path, "local0"))
    t.send(6, "nobody listens", WALL, "haproxy", 1, "")
    assert t.dropped == 1
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    t.send(6, "now someone does", WALL, "haproxy", 1, "")
    assert rx.recv(1000).endswith(b"haproxy[1]: now someone does\n")
    assert (t.sent, t.dropped) == (1, 1)
    rx.close()
    t.close()


def test_flooded_target_drops_without_blocking(tmp_path):
    path = str(tmp_path / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    t = Target(("log", path, "local0"))
    start = time.monotonic()
    for _ in range(5000):
        t.send(6, "y" * 500, WALL, "haproxy", 1, "")
    assert time.monotonic() - start < 5
    assert t.dropped > 0 and t.sent + t.dropped == 5000
    rx.close()
    t.close()


def test_stdout_target(tmp_path):
    r, w = os.pipe()
    t = Target(("log", f"fd@{w}", "format", "raw", "daemon"))
    t.send(6, "hello", WALL, "haproxy", 1, "")
    assert os.read(r, 100) == b"hello\n"
    os.close(r)
    os.close(w)
