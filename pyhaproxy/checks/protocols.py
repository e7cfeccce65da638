"""Protocol checks as rule data (configuration.txt §4.2 "option redis-check",
"option smtpchk"): each is a function of the option's arguments returning a
``Ruleset`` of send/expect steps; ``PROTOCOLS`` maps option names to them.
``spop-check`` and ``external-check`` have no rule data here and stay
unimplemented (a start refuses them), as does ``mysql-check user``."""

from __future__ import annotations

import re
import time
from typing import Any

from pyhaproxy.checks import rules as R
from pyhaproxy.checks import status as st


def redis(args: tuple[str, ...]) -> R.Ruleset:
    """``option redis-check``: PING, expect +PONG (HAProxy's redis ruleset)."""
    return R.with_connect(
        "redis",
        [
            R.Send(0, b"*1\r\n$4\r\nPING\r\n"),
            R.Expect(
                1,
                "string",
                b"+PONG\r\n",
                "+PONG",
                error=st.L7STS,
                on_error=_cut_crlf,
                on_success="Redis server is ok",
            ),
        ],
    )


def _cut_crlf(buf: bytes) -> str:
    """``res.payload(0,0),cut_crlf``: up to the first CR or LF."""
    return buf.decode("latin-1").split("\r", 1)[0].split("\n", 1)[0]


def _first_line(buf: bytes, skip: int = 0) -> str:
    """``res.payload(<skip>,0),ltrim(' '),cut_crlf``."""
    return _cut_crlf(buf[skip:].lstrip(b" "))


def _smtp_code(buf: bytes) -> int:
    head = buf[:3]
    return int(head) if head.isdigit() else 0


def smtp(args: tuple[str, ...]) -> R.Ruleset:
    """``option smtpchk [HELO|EHLO <domain>]``: a 2xx banner, then a 2xx
    answer to HELO/EHLO, then QUIT (HAProxy's smtp ruleset: the words are
    the server's, its code the check code)."""
    if len(args) >= 2 and args[0] in ("HELO", "EHLO"):
        cmd = f"{args[0]} {args[1]}"
    else:
        cmd = "HELO localhost"
    words = lambda b: _first_line(b, 4)  # noqa: E731
    return R.Ruleset(
        "smtp",
        (
            R.Connect(0),  # "connect default linger"
            R.Expect(
                1,
                "rstring",
                re.compile(r"^[0-9]{3}[ \r]"),
                min_recv=4,
                error=st.L7RSP,
                on_error=_cut_crlf,
            ),
            R.Expect(
                2,
                "rstring",
                re.compile(r"^2[0-9]{2}[ \r]"),
                min_recv=4,
                error=st.L7STS,
                on_error=words,
                status_code=_smtp_code,
            ),
            R.Send(3, f"{cmd}\r\n".encode()),
            R.Expect(
                4,
                "rstring",
                re.compile(r"^(2[0-9]{2}-[^\r]*\r\n)*2[0-9]{2}[ \r]"),
                error=st.L7STS,
                on_error=words,
                on_success=words,
                status_code=_smtp_code,
            ),
            R.Send(5, b"QUIT\r\n"),
            R.Expect(
                6,
                "rstring",
                re.compile(r"^2[0-9]{2}[- \r]"),
                min_recv=4,
                error=st.L7STS,
                on_error=words,
                on_success=words,
                status_code=_smtp_code,
            ),
        ),
    )


def _ssl_hello() -> bytes:
    ciphers = b"".join(n.to_bytes(2, "big") for n in [*range(0x01, 0x1C), *range(0x2F, 0x3B)])
    body = (
        b"\x03\x00"  # hello version: SSLv3
        + int(time.time()).to_bytes(4, "big")  # gmt_unix_time
        + b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n"  # random: 28 bytes
        + b"\x00"  # no session id
        + len(ciphers).to_bytes(2, "big")
        + ciphers
        + b"\x01\x00"  # one compression method: null
    )
    hello = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x00" + len(hello).to_bytes(2, "big") + hello


def ssl_hello(args: tuple[str, ...]) -> R.Ruleset:
    """``option ssl-hello-chk``: an SSLv3 CLIENT HELLO; a handshake or alert
    record back (``^1[56]``) passes at layer 6 (HAProxy's ssl-hello ruleset;
    the hello's time field is the start time)."""
    return R.with_connect(
        "ssl-hello",
        [
            R.Send(0, _ssl_hello()),
            R.Expect(
                1,
                "rbinary",
                re.compile("^1[56]"),
                min_recv=5,
                ok=st.L6OK,
                error=st.L6RSP,
                tout=st.L6TOUT,
            ),
        ],
    )


def _pg_error(buf: bytes) -> str:
    return buf[6:].split(b"\0", 1)[0].decode("latin-1")


def pgsql(args: tuple[str, ...]) -> R.Ruleset:
    """``option pgsql-check user <name>``: a startup packet for ``<name>``;
    an error packet (``E``) fails with its text, an authentication-ok packet
    passes (HAProxy's pgsql ruleset)."""
    user = args[1] if len(args) >= 2 and args[0] == "user" else ""
    payload = b"\x00\x03\x00\x00user\x00" + user.encode() + b"\x00\x00"
    packet = (len(payload) + 4).to_bytes(4, "big") + payload
    return R.with_connect(
        "pgsql",
        [
            R.Connect(0),  # "connect default linger"
            R.Send(1, packet),
            R.Expect(
                2,
                "rstring",
                re.compile("^E"),
                negate=True,
                min_recv=5,
                error=st.L7RSP,
                on_error=_pg_error,
            ),
            R.Expect(
                3,
                "rbinary",
                re.compile("^52000000[A-Z0-9]{2}000000(00|02|03|04|05|06|07|09|0A)"),
                min_recv=9,
                error=st.L7STS,
                on_success="PostgreSQL server is ok",
                on_error="PostgreSQL unknown error",
            ),
        ],
    )


def _ldap_bind_response(ruleset: R.Ruleset, rule: R.Expect, buf: bytes, last: bool) -> Any:
    """An LDAPv3 bindResponse (RFC 4511 §4.2.2, §4.1.9); HAProxy's
    tcpcheck_ldap_expect_bindrsp."""
    bad = R.Result(st.L7RSP, 0, "Not LDAPv3 protocol")
    if len(buf) < 14:
        return None if not last else bad
    msglen = buf[1] & 0x7F if buf[1] & 0x80 else 0
    if msglen > 2 or buf[2 + msglen : 6 + msglen] != b"\x02\x01\x01\x61":
        return bad
    if len(buf) <= msglen + 9:
        return None if not last else bad
    msglen += buf[msglen + 6] & 0x7F if buf[msglen + 6] & 0x80 else 0
    if msglen > 4 or buf[7 + msglen : 9 + msglen] != b"\x0a\x01":
        return bad
    if len(buf) <= msglen + 9:
        return None if not last else bad
    code = buf[msglen + 9]
    if code:
        return R.Result(st.L7STS, code, "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9")
    return R.Result(st.L7OK, 0, "Success")


def ldap(args: tuple[str, ...]) -> R.Ruleset:
    """``option ldap-check``: an anonymous LDAPv3 bind; a bindResponse with
    resultCode 0 passes (HAProxy's ldap ruleset)."""
    return R.with_connect(
        "ldap",
        [
            R.Send(0, bytes.fromhex("300C020101600702010304008000")),
            R.Expect(
                1,
                "rbinary",
                re.compile("^30"),
                min_recv=14,
                on_error="Not LDAPv3 protocol",
            ),
            R.Expect(2, "custom", _ldap_bind_response),
        ],
    )


def _mysql_handshake(ruleset: R.Ruleset, rule: R.Expect, buf: bytes, last: bool) -> Any:
    """The server's initial handshake packet (HAProxy's
    tcpcheck_mysql_expect_iniths): an error packet (0xff) fails with its
    code and text; otherwise the server version is the check's words."""
    if len(buf) < 4:
        return None if not last else R.Result(st.L7RSP, 0, "")
    plen = int.from_bytes(buf[0:3], "little")
    if len(buf) < plen + 4:
        return None if not last else R.Result(st.L7RSP, 0, "")
    if buf[4] == 0xFF:
        code = int.from_bytes(buf[5:7], "little")
        return R.Result(st.L7STS, code, buf[7:].decode("latin-1"))
    version = buf[5:].split(b"\0", 1)[0].decode("latin-1")
    return R.Result(st.L7OK, 0, version)


def mysql(args: tuple[str, ...]) -> R.Ruleset:
    """``option mysql-check``: read the server's handshake packet.  The
    ``user`` form (a login and a QUIT) is not implemented: a start refuses it."""
    if args:
        raise ValueError("'option mysql-check user <name>' is not implemented yet by pyhaproxy")
    return R.with_connect("mysql", [R.Connect(0), R.Expect(1, "custom", _mysql_handshake)])


PROTOCOLS = {
    "redis-check": redis,
    "smtpchk": smtp,
    "ssl-hello-chk": ssl_hello,
    "pgsql-check": pgsql,
    "ldap-check": ldap,
    "mysql-check": mysql,
}
