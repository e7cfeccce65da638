"""Health checks over TLS (configuration.txt §5.2 "check-ssl", "check-sni",
"check-alpn"; §4.2 "tcp-check connect ssl sni"), through the real process and
compared with Debian's haproxy against the same targets: the words of each
result (L6OK, L6RSP, L6TOUT, L7STS over TLS) and the SNI the target sees."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

from pyhaproxy.checks import rules as R
from pyhaproxy.checks import status as st
from pyhaproxy.checks import tls as T
from tests.checks.servers import Target
from tests.checks.test_compat import _normalize
from tests.dataplane.conftest import read_log
from tests.dataplane.servers import free_port
from tests.helpers import PYHAPROXY

HEAD = """global
    ca-base {d}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 500ms
frontend fe
    bind 127.0.0.1:{fe}
    default_backend b
"""
CFG = (
    HEAD
    + """backend b
    option log-health-checks
    default-server inter 150 rise 1 fall 1
    server good 127.0.0.1:{good} check check-ssl verify none
    server plain 127.0.0.1:{plain} check check-ssl verify none
    server hang 127.0.0.1:{hang} check check-ssl verify none
    server sni 127.0.0.1:{good} ssl check verify required ca-file ca.pem check-sni www.exact.test
    server badsni 127.0.0.1:{good} ssl check verify required ca-file ca.pem check-sni wrong.test
backend h
    option log-health-checks
    option httpchk GET /health
    default-server check-ssl verify none inter 150 rise 1 fall 1
    server ok 127.0.0.1:{ok} check
    server err 127.0.0.1:{err} check
backend t
    option tcp-check
    tcp-check connect ssl sni alt.exact.test
    tcp-check send PING\\r\\n
    tcp-check expect string +PONG
    server t1 127.0.0.1:{pong} check verify none inter 150 rise 1 fall 1
    server t2 127.0.0.1:{plain} check verify none inter 150 rise 1 fall 1
"""
)


def _server_ctx(pki_dir: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki_dir / "exact.pem"))
    return ctx


@pytest.fixture
def targets(pki_dir: Path):
    made = {
        "good": Target(Target.http(200), tls=_server_ctx(pki_dir)),
        "plain": Target(Target.http(200)),
        "hang": Target(mode="hang"),
        "ok": Target(Target.http(200), tls=_server_ctx(pki_dir)),
        "err": Target(Target.http(500, b"no", "Internal Server Error"), tls=_server_ctx(pki_dir)),
        "pong": Target(b"+PONG\r\n", tls=_server_ctx(pki_dir)),
    }
    yield made
    for t in made.values():
        t.close()


def _cfg(pki_dir: Path, targets: dict[str, Target], fe: int) -> str:
    return CFG.format(d=pki_dir, fe=fe, **{k: t.port for k, t in targets.items()})


def _run(launcher, cfg: str, fe: int, haproxy: bool = False) -> dict[str, list[str]]:
    proc = (launcher.haproxy if haproxy else launcher.start)(cfg, wait=fe)
    time.sleep(1.2)
    proc.terminate()
    proc.wait(5)
    return _normalize(read_log(proc))


def test_results_and_words(launcher, pki_dir: Path, targets: dict[str, Target]) -> None:
    fe = free_port()
    got = _run(launcher, _cfg(pki_dir, targets, fe), fe)
    text = {k: "\n".join(v) for k, v in got.items()}
    assert "b/good succeeded, reason: Layer6 check passed" in text["b/good"]
    assert (
        'b/plain failed, reason: Layer6 invalid response, info: "SSL handshake failure"'
        in text["b/plain"]
    )
    assert "Server b/plain is DOWN" in text["b/plain"]
    assert "b/hang failed, reason: Layer6 timeout," in text["b/hang"]
    assert "b/sni succeeded, reason: Layer6 check passed" in text["b/sni"]
    assert (
        'info: "Server presented an SSL certificate different from the expected one"'
        in text["b/badsni"]
    )
    # option httpchk over TLS
    assert "h/ok succeeded, reason: Layer7 check passed, code: 200" in text["h/ok"]
    assert (
        'h/err failed, reason: Layer7 wrong status, code: 500, info: "Internal Server Error"'
        in text["h/err"]
    )
    assert targets["ok"].seen and targets["ok"].seen[-1][1] == b"GET /health HTTP/1.0"
    # tcp-check connect ssl sni: the rules after it run over TLS
    assert "Server t/t2 is DOWN, reason: Layer6 invalid response" in text["t/t2"]
    assert "at step 1 of tcp-check (connect)" in text["t/t2"]
    assert "t/t1" not in text  # stays UP, nothing to say
    assert targets["pong"].seen and targets["pong"].seen[-1][1] == b"PING"
    # the names the targets saw: check-sni, the connect's sni, none by default
    assert set(targets["good"].names) == {None, "www.exact.test", "wrong.test"}
    assert set(targets["pong"].names) == {"alt.exact.test"}
    assert set(targets["ok"].names) == {None}


def test_messages_match_haproxy(launcher, pki_dir: Path, targets: dict[str, Target]) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        pytest.skip("Debian's haproxy is not installed")
    fe_py, fe_ha = free_port(), free_port()
    mine = _run(launcher, _cfg(pki_dir, targets, fe_py), fe_py)
    theirs = _run(launcher, _cfg(pki_dir, targets, fe_ha), fe_ha, haproxy=True)
    # the first messages of each server: later ones depend on the sleep
    assert {k: v[:2] for k, v in mine.items()} == {k: v[:2] for k, v in theirs.items()}
    assert "b/plain" in theirs and "b/hang" in theirs and "h/err" in theirs


def test_down_reason_matches_haproxy(launcher, pki_dir: Path) -> None:
    """Without log-health-checks: the DOWN alert quotes the reason."""
    plain = Target(Target.http(200))
    cfg = HEAD + "backend b\n    server s1 127.0.0.1:{p} check check-ssl verify none inter 150\n"
    try:
        out = []
        for ha in (False, True):
            fe = free_port()
            if ha and not Path("/usr/sbin/haproxy").exists():
                pytest.skip("Debian's haproxy is not installed")
            out.append(_run(launcher, cfg.format(d=pki_dir, fe=fe, p=plain.port), fe, ha))
    finally:
        plain.close()
    assert out[0] == out[1]
    assert out[0]["b/s1"][0].startswith(
        'WARNING Server b/s1 is DOWN, reason: Layer6 invalid response, info: "SSL handshake '
        'failure", check duration: Nms.'
    )


def test_check_ssl_accepted_by_check_mode(tmp_path: Path, pki_dir: Path) -> None:
    import subprocess

    cfg = tmp_path / "c.cfg"
    cfg.write_text(
        HEAD.format(d=pki_dir, fe=free_port())
        + "backend b\n    server s 127.0.0.1:1 check check-ssl verify none check-sni a.test"
        " check-alpn http/1.1\n    server t 127.0.0.1:2 ssl check verify none\n"
    )
    res = subprocess.run([*PYHAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "not implemented" not in res.stderr


# ------------------------------------------------------------ without sockets


def test_default_connects_take_the_server_settings() -> None:
    rs = R.with_connect("tcp", [R.Connect(0, default=True), R.Send(1, b"x")])
    bound = T.bind_ruleset(rs, {"check-ssl": True, "check-sni": "a.test"})
    assert bound.steps[0] == R.Connect(0, ssl=True, sni="a.test", default=True)
    assert T.bind_ruleset(R.L4, {"ssl": True}).steps[0].ssl
    assert not T.bind_ruleset(R.L4, {"ssl": True, "no-check-ssl": True}).steps[0].ssl
    assert T.bind_ruleset(R.L4, {}) is R.L4
    explicit = R.with_connect("tcp", [R.Connect(0, sni="b.test")])
    assert T.bind_ruleset(explicit, {"check-ssl": True}) is not explicit
    assert not T.bind_ruleset(explicit, {"check-ssl": True}).steps[0].ssl


def test_tls_connect_alone_is_l6ok() -> None:
    run = R.Run(T.bind_ruleset(R.L4, {"check-ssl": True}))
    assert isinstance(run.next(), R.Connect)
    assert run.next() == R.Result(st.L6OK, 0, "")
    run = R.Run(R.with_connect("tcp", [R.Connect(0, ssl=True)]))
    run.next()
    assert run.next() == R.Result(st.L6OK, 0, "(tcp-check)")


def test_context_built_once_per_server(pki_dir: Path) -> None:
    """The runner wraps each check's connection with the context of
    ``for_server``; nothing is built per check."""
    from pyhaproxy.config.model import Server

    model = Server("x:1", "s", None, {"check-ssl": True, "verify": "none", "sni": "str(a)"})
    tls = T.for_server("'server b/s'", model, {})
    assert isinstance(tls.context, ssl.SSLContext)
    assert not tls.context.check_hostname  # the traffic's "sni" is not a check's
    a = tls.wrap(ssl.MemoryBIO(), ssl.MemoryBIO(), "a.test")
    b = tls.wrap(ssl.MemoryBIO(), ssl.MemoryBIO(), "")
    assert a.context is b.context is tls.context
    assert b.server_hostname is None
