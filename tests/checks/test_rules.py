"""The tcp-check / http-check interpreter and agent replies, without sockets."""

from __future__ import annotations

import re

from pyhaproxy.checks import agent, build, protocols
from pyhaproxy.checks import rules as R
from pyhaproxy.checks import status as st


def _tcp(*steps):
    return R.with_connect("tcp", list(steps))


def _drive(ruleset, chunks, eof=False):
    """Run the rule set as the runner would; returns (sent, result)."""
    run = R.Run(ruleset)
    sent = []
    step = run.next()
    assert isinstance(step, R.Connect)
    step = run.next()
    buf = b""
    chunks = list(chunks)
    while not isinstance(step, R.Result):
        if isinstance(step, R.Send):
            sent.append(step.data)
            buf = b""
            step = run.next()
            continue
        got = run.feed(buf, False) if buf else None
        while got is None:
            if not chunks:
                got = run.feed(buf, True) if eof else None
                if got is None:
                    return sent, None
                break
            buf += chunks.pop(0)
            got = run.feed(buf, False)
        step = got
    return sent, step


def test_plain_connect_is_l4ok():
    run = R.Run(R.L4)
    assert isinstance(run.next(), R.Connect)
    res = run.next()
    assert res.status is st.L4OK and res.desc == ""


def test_tcp_check_string_match_and_mismatch():
    rs = _tcp(R.Send(0, b"PING\r\n"), R.Expect(1, "string", b"+PONG", "+PONG"))
    sent, res = _drive(rs, [b"+PO", b"NG\r\n"])
    assert sent == [b"PING\r\n"]
    assert res.status is st.L7OK and res.desc == "(tcp-check)"
    _, res = _drive(rs, [b"-ERR\r\n"], eof=True)
    assert res.status is st.L7RSP
    assert res.desc == "TCPCHK did not match content '+PONG' at step 2"


def test_tcp_check_waits_without_min_recv_and_decides_with_it():
    rs = _tcp(R.Expect(0, "string", b"OK", "OK"))
    assert _drive(rs, [b"NO"])[1] is None  # may still come: wait
    rs = _tcp(R.Expect(0, "string", b"OK", "OK", min_recv=2))
    assert _drive(rs, [b"NO"])[1].status is st.L7RSP


def test_tcp_check_negation_regex_binary():
    rs = _tcp(R.Expect(0, "string", b"ERR", "ERR", negate=True, min_recv=1))
    assert _drive(rs, [b"ERR"])[1].desc == "TCPCHK matched unwanted content 'ERR' at step 1"
    rs = _tcp(R.Expect(0, "rstring", re.compile(r"^\+OK"), r"^\+OK"))
    assert _drive(rs, [b"+OK go"])[1].status is st.L7OK
    rs = _tcp(R.Expect(0, "binary", b"\x01\x02", "0102"))
    assert _drive(rs, [b"\x00\x01\x02"])[1].status is st.L7OK
    rs = _tcp(R.Expect(0, "rbinary", re.compile("0102$"), "0102$"))
    assert _drive(rs, [b"\x00\x01\x02"])[1].status is st.L7OK


def test_conn_error_words():
    rs = _tcp(R.Send(0, b"x"), R.Expect(1, "string", b"y", "y", comment="the y"))
    assert R.conn_error(rs, rs.steps[0], "Connection refused") == (
        "Connection refused at initial connection step of tcp-check"
    )
    assert R.conn_error(rs, rs.steps[2], "") == (
        " at step 2 of tcp-check (expect string 'y') comment: 'the y'"
    )
    assert R.conn_error(R.L4, R.L4.steps[0], "Connection refused") == "Connection refused"


def _http(status_line: bytes, body: bytes = b"") -> bytes:
    return status_line + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def test_http_default_expect_and_status():
    rs = build.http_request((), None)
    assert rs == b"OPTIONS / HTTP/1.0\r\n\r\n"
    ruleset = R.Ruleset("http", (R.Connect(implicit=True), R.Send(0, rs), R.DEFAULT_HTTP_EXPECT))
    _, res = _drive(ruleset, [_http(b"HTTP/1.1 302 Found")])
    assert (res.status, res.code, res.desc) == (st.L7OK, 302, "")
    _, res = _drive(ruleset, [_http(b"HTTP/1.1 503 Service Unavailable")])
    assert (res.status, res.code, res.desc) == (st.L7STS, 503, "Service Unavailable")


def test_http_body_expect_waits_for_body():
    exp = R.Expect(1, "string", b"alive", "alive", http=True)
    ruleset = R.Ruleset("http", (R.Connect(implicit=True), R.Send(0, b"GET"), exp))
    resp = _http(b"HTTP/1.1 200 OK", b"I am alive")
    _, res = _drive(ruleset, [resp[:-3], resp[-3:]])
    assert res.status is st.L7OK and res.code == 200
    _, res = _drive(ruleset, [_http(b"HTTP/1.1 200 OK", b"dead")])
    assert res.status is st.L7RSP and res.desc == "HTTP content check did not match"


def test_http_request_with_send_rule():
    req = build.http_request(("GET", "/h", "HTTP/1.1"), {"hdrs": [("Host", "foo")], "body": "abc"})
    assert req == (
        b"GET /h HTTP/1.1\r\nhost: foo\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc"
    )


def test_redis_ruleset():
    rs = protocols.redis(())
    sent, res = _drive(rs, [b"+PONG\r\n"])
    assert sent == [b"*1\r\n$4\r\nPING\r\n"] and res.status is st.L7OK
    _, res = _drive(rs, [b"-ERR nope\r\n"], eof=True)
    assert res.status is st.L7STS


def test_agent_reply_words():
    r = agent.parse("75%, drain maxconn:10 # going away")
    assert (r.weight, r.admin, r.maxconn, r.desc, r.health) == (
        "75%",
        "drain",
        "10",
        "going away",
        "",
    )
    r = agent.parse("down#bad disk")
    assert (r.health, r.desc) == ("down", "bad disk")
    r = agent.parse("up bogus")
    assert (r.health, r.error) == ("up", "bogus")


def test_status_table_words():
    assert st.L4CON.words == "Layer4 connection problem"
    assert st.L7STS.with_code and not st.L7RSP.with_code
    assert st.by_name("L7OKC") is st.L7OKC


def test_ssl_hello_ruleset():
    rs = protocols.ssl_hello(())
    sent, res = _drive(rs, [b"\x16\x03\x00\x00\x10"])
    hello = sent[0]
    assert hello[:3] == b"\x16\x03\x00" and int.from_bytes(hello[3:5], "big") == len(hello) - 5
    assert len(hello) == 0x79 + 5 and res.status is st.L6OK
    _, res = _drive(rs, [b"HTTP/1.0 400 Bad"])
    assert res.status is st.L6RSP


def test_pgsql_ruleset():
    rs = protocols.pgsql(("user", "bob"))
    sent, res = _drive(rs, [bytes.fromhex("520000000800000000")])
    assert sent[0] == b"\x00\x00\x00\x12\x00\x03\x00\x00user\x00bob\x00\x00"
    assert (res.status, res.desc) == (st.L7OK, "PostgreSQL server is ok")
    _, res = _drive(rs, [b"E\x00\x00\x00\x20SFATAL\x00Mno such role\x00"])
    assert (res.status, res.desc) == (st.L7RSP, "FATAL")


def test_smtp_ruleset():
    rs = protocols.smtp(("EHLO", "me"))
    run = R.Run(rs)
    assert isinstance(run.next(), R.Connect)
    assert isinstance(run.next(), R.Expect)
    step = run.feed(b"220 mail ready\r\n", False)
    assert isinstance(step, R.Expect)
    step = run.feed(b"220 mail ready\r\n", False)
    assert step == rs.steps[3] and step.data == b"EHLO me\r\n"
    run2 = R.Run(rs)
    run2.next()
    run2.next()
    run2.feed(b"554 go away\r\n", False)
    res = run2.feed(b"554 go away\r\n", False)
    assert (res.status, res.code, res.desc) == (st.L7STS, 554, "go away")


def test_ldap_ruleset():
    rs = protocols.ldap(())
    ok = bytes.fromhex("300c02010161070a010004000400")
    sent, res = _drive(rs, [ok])
    assert sent == [bytes.fromhex("300C020101600702010304008000")]
    assert (res.status, res.desc) == (st.L7OK, "Success")
    refused = bytes.fromhex("300c02010161070a013104000400")
    _, res = _drive(rs, [refused])
    assert (res.status, res.code) == (st.L7STS, 0x31)
    _, res = _drive(rs, [b"HTTP/1.0 400 Bad Request\r\n"], eof=True)
    assert (res.status, res.desc) == (st.L7RSP, "Not LDAPv3 protocol")


def test_mysql_ruleset():
    rs = protocols.mysql(())
    greeting = b"\x0a5.7.1-log\x00" + b"\x00" * 20
    packet = len(greeting).to_bytes(3, "little") + b"\x00" + greeting
    _, res = _drive(rs, [packet[:5], packet[5:]])
    assert (res.status, res.desc) == (st.L7OK, "5.7.1-log")
    err = b"\xff\x15\x04Host is blocked"
    _, res = _drive(rs, [len(err).to_bytes(3, "little") + b"\x00" + err])
    assert (res.status, res.code, res.desc) == (st.L7STS, 1045, "Host is blocked")
