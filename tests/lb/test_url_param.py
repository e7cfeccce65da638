"""``balance url_param NAME``: the parameter's value hashed; round robin
when it is missing -- compared with Debian's haproxy."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from pyhaproxy.lb.keys import dechunk
from tests.dataplane.servers import free_port
from tests.lb.compare import Req, both, command, mixed

SERVERS = ["a weight 3", "b", "c weight 2", "d weight 5", "e id 12"]


@pytest.mark.parametrize("hash_type", ["", "consistent", "map-based djb2", "consistent wt6"])
def test_url_param_matches_haproxy(launcher, hash_type):
    extra = f"    hash-type {hash_type}\n" if hash_type else ""
    ha, py = both(launcher, "balance url_param user", SERVERS, mixed(36), extra)
    assert ha == py


def test_url_param_in_post_body_matches_haproxy(launcher):
    steps = [Req("/form", method="POST", body=f"a=1&user=u{i}&z=2".encode()) for i in range(12)] + [
        Req("/form?user=q", method="POST", body=b"user=zz")
    ] * 3
    ha, py = both(launcher, "balance url_param user", SERVERS, steps)
    assert ha == py


def late_body(path: str, body: bytes, chunked: bool = False, expect: bool = False):
    """A step: a POST whose head and body are sent in two writes, 50 ms
    apart (a choice made at the end of the head cannot see the body)."""

    def step(port: int, sock: str | None) -> str:
        head = f"POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        if chunked:
            payload = (
                b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:3], body[3:]) if p)
                + b"0\r\n\r\n"
            )
            head += "Transfer-Encoding: chunked\r\n"
        else:
            payload = body
            head += f"Content-Length: {len(body)}\r\n"
        if expect:
            head += "Expect: 100-continue\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(head.encode() + b"\r\n")
            time.sleep(0.05)
            if expect:
                cont = s.recv(100)
                assert cont.startswith(b"HTTP/1.1 100"), cont
            s.sendall(payload)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head_b, _, rest = data.partition(b"\r\n\r\n")
        status = head_b.split(b" ", 2)[1] if head_b else b"---"
        return rest.decode() if status == b"200" else f"<{status.decode()}>"

    step.records = True  # type: ignore[attr-defined]
    return step


@pytest.mark.parametrize("modifier", ["", " check_post"])
def test_url_param_in_late_post_body_matches_haproxy(launcher, modifier):
    """HAProxy waits for the body of a url_param POST before it chooses,
    whatever ``check_post`` says; so does pyhaproxy, through a server
    taken down and back."""
    steps = [late_body("/form", f"a=1&user=u{i}&z=2".encode()) for i in range(10)]
    steps += [late_body("/form", b"nouser=1"), late_body("/form?user=q", b"user=zz")]
    steps += [command("disable server be/d")]
    steps += [late_body("/form", f"user=v{i}".encode()) for i in range(8)]
    steps += [command("enable server be/d")]
    steps += [late_body("/f", f"user=w{i}&x".encode()) for i in range(6)]
    steps += [late_body("/f", b"user=big&" + b"x" * 17000)]  # past the buffer size
    ha, py = both(launcher, f"balance url_param user{modifier}", SERVERS, steps, stats=True)
    assert ha == py
    assert "d" not in ha[12:20]


def test_url_param_in_chunked_post_body_matches_haproxy(launcher):
    steps = [late_body("/c", f"user=u{i}&k=1".encode(), chunked=True) for i in range(12)]
    steps += [late_body("/c", b"zz=1&user=abc", chunked=True)]
    ha, py = both(launcher, "balance url_param user", SERVERS, steps)
    assert ha == py


def test_url_param_post_with_expect_100_continue_matches_haproxy(launcher):
    steps = [late_body("/e", f"user=u{i}".encode(), expect=True) for i in range(8)]
    ha, py = both(launcher, "balance url_param user", SERVERS, steps)
    assert ha == py


def test_check_post_is_accepted_as_haproxy_2_6_does(tmp_path):
    """The modifier changes nothing in HAProxy 2.6 (a POST body is searched
    either way): no "not implemented" notice, a valid configuration."""
    cfg = tmp_path / "c.cfg"
    cfg.write_text(
        "defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n"
        f"frontend f\n  bind 127.0.0.1:{free_port()}\n  default_backend b\n"
        "backend b\n  balance url_param user check_post\n  server s 127.0.0.1:1\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pyhaproxy", "-f", str(cfg), "-c"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0
    assert "not implemented" not in out.stderr


def test_chunked_body_is_searched_dechunked():
    assert dechunk(b"3\r\nuse\r\n6;ext=1\r\nr=abc&\r\n0\r\n\r\n") == b"user=abc&"
    assert dechunk(b"5\r\nuser=") == b"user="  # a chunk cut by the buffer end
    assert dechunk(b"zz\r\n") == b""


def test_held_post_whose_body_stalls_gets_haproxy_408(launcher):
    """A url_param POST waits for its body; when it stalls, ``timeout
    client`` ends the wait with the stream's 408 page, as HAProxy's."""
    answers = []
    for start in (launcher.haproxy, launcher.start):
        port, srv, probe = free_port(), free_port(), free_port()
        start(
            "defaults\n    mode http\n    timeout client 500\n    timeout server 5s\n"
            "    timeout connect 2s\n"
            f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
            f"backend be\n    balance url_param user\n    server s 127.0.0.1:{srv}\n"
            f"listen l\n    bind 127.0.0.1:{srv}\n    bind 127.0.0.1:{probe}\n"
            "    http-request return status 200 content-type text/plain string ok\n",
            wait=probe,
        )
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\nuser=ab")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        answers.append(data)
    assert answers[0] == answers[1]
    assert answers[1].startswith(b"HTTP/1.1 408 ")
