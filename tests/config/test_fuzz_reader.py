"""Property tests: no input makes the reader, the loader or ``-c`` crash.

Whatever bytes a configuration holds (quotes, backslashes, ``$``/``${``,
``#``, ``.if`` lines, NUL, non-UTF-8), pyhaproxy must answer with alerts and
an exit status of 0, 1 or 2, never with a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import tempfile
from collections.abc import Iterator
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyhaproxy import cli
from pyhaproxy.config.loader import load
from pyhaproxy.messages import Reporter

FRAGMENTS = [
    # structure
    "global",
    "defaults",
    "defaults d",
    "frontend fe",
    "backend be",
    "listen li",
    "fe from d",
    "from",
    "userlist",
    # directives
    ".if",
    ".elif",
    ".else",
    ".endif",
    ".notice",
    ".warning",
    ".alert",
    ".diag",
    "defined(HOME)",
    "feature(EPOLL)",
    "streq(a,b)",
    "version_atleast(2.4)",
    "!",
    "&&",
    "||",
    "(",
    ")",
    # keywords and values
    "bind",
    "server s",
    "default-server",
    "default_backend",
    "use_backend",
    "mode http",
    "mode tcp",
    "timeout client",
    "timeout",
    "balance",
    "option",
    "no option",
    "acl a",
    "if",
    "{",
    "}",
    "weight",
    "rise",
    "maxconn",
    "127.0.0.1:8080",
    "127.0.0.1:",
    ":99999",
    "1-2",
    "10s",
    "1mn",
    "-1",
    "0",
    "12x",
    # lexical traps
    "'",
    '"',
    "\\",
    "\\x",
    "\\x4",
    "\\x41",
    "\\\\",
    "$",
    "$HOME",
    "${",
    "${HOME}",
    "${X-d}",
    "${X[*]}",
    "${}",
    "#",
    " ",
    "\t",
    "\r",
    "\x00",
    "é",
    "\udcff",  # a non-UTF-8 byte once encoded with surrogateescape
]

# Lines of a plausible configuration, so that fuzzed lines reach keyword
# parsers and the post-parse checks, not only "unknown keyword out of section".
SKELETON = [
    "global",
    "defaults",
    "    mode http",
    "    timeout client 1s",
    "frontend fe",
    "    bind 127.0.0.1:8080",
    "    default_backend be",
    "backend be",
    "    server s1 127.0.0.1:8080 check",
    "listen li",
    ".if 1",
    ".else",
    ".endif",
]
KEYWORD_LINES = [
    "    bind",
    "    server s",
    "    default-server",
    "    timeout",
    "    option",
    "    balance",
    "    use_backend",
    "    default_backend",
    "    acl",
    "    http-request",
    "    log",
    "    stats",
    "    maxconn",
    "    nbthread",
    "    tune.bufsize",
]

fuzz_line = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=8).map(
    lambda parts: " ".join(parts) if len(parts) % 2 else "".join(parts)
)
keyword_line = st.tuples(st.sampled_from(KEYWORD_LINES), fuzz_line).map(" ".join)
line = st.one_of(st.sampled_from(SKELETON), fuzz_line, keyword_line)
config_text = st.lists(line, max_size=16).map(
    lambda lines: "\n".join(lines).encode("utf-8", "surrogateescape")
)
config_bytes = st.one_of(config_text, st.binary(max_size=300), config_text.map(lambda b: b + b"\n"))


def _fake_getaddrinfo(host, *args, **kwargs):
    """No DNS in property tests: only the loopback names resolve."""
    if host in ("localhost", "127.0.0.1", "::1"):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@contextlib.contextmanager
def _config_file(data: bytes) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fuzz.cfg")
        with open(path, "wb") as fh:
            fh.write(data)
        with mock.patch("socket.getaddrinfo", _fake_getaddrinfo):
            yield path


FUZZ = settings(
    max_examples=int(os.environ.get("PYH_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(config_bytes)
def test_loader_never_raises(data: bytes) -> None:
    stream = io.StringIO()
    with _config_file(data) as path:
        result = load([path], Reporter(stream=stream))
    assert result.status in (0, 1)
    assert (result.config is None) == (result.status != 0)
    assert "Traceback" not in stream.getvalue()


@FUZZ
@given(config_bytes)
def test_check_mode_exit_status(data: bytes) -> None:
    out, err = io.StringIO(), io.StringIO()
    with (
        _config_file(data) as path,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            status = cli.main(["-c", "-f", path])
        except SystemExit as exc:  # the only exception allowed out of main()
            status = exc.code
    assert status in (0, 1, 2), err.getvalue()
    if status == 1:
        assert "[ALERT]" in err.getvalue()
