"""``crt-list <file>`` (configuration.txt §5.1 "crt-list"): one certificate
per line, ``<crtfile> [\\[<sslbindconf> ...\\]] [[!]<snifilter> ...]``;
blank lines and ``#`` comments are skipped; relative paths use ``crt-base``."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

from pyhaproxy.tls.certs import TlsError

# per-line options HAProxy 2.6 accepts in brackets, and how many words each takes
LINE_OPTIONS = {
    "allow-0rtt": 0,
    "alpn": 1,
    "ca-file": 1,
    "ciphers": 1,
    "ciphersuites": 1,
    "crl-file": 1,
    "curves": 1,
    "ecdhe": 1,
    "no-ca-names": 0,
    "npn": 1,
    "ssl-min-ver": 1,
    "ssl-max-ver": 1,
    "verify": 1,
    "ocsp-update": 1,
}


@dataclass(slots=True)
class CrtListLine:
    lineno: int
    path: str
    options: dict[str, object] = field(default_factory=dict)
    filters: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)


def read_crt_list(path: str, crt_base: str | None = None) -> list[CrtListLine]:
    """Parse the file; raises TlsError with HAProxy's wording."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        raise TlsError(f"cannot open file '{path}' : {exc.strerror}") from None
    out: list[CrtListLine] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        opts: dict[str, object] = {}
        if "[" in line:
            start, end = line.index("["), line.find("]")
            if end < start:
                raise TlsError(f"file '{path}', line {lineno}: missing ']' in the options.")
            inner = shlex.split(line[start + 1 : end])
            line = line[:start] + " " + line[end + 1 :]
            i = 0
            while i < len(inner):
                name = inner[i]
                if name not in LINE_OPTIONS:
                    raise TlsError(
                        f"crt-list: unknown keyword '{name}' in file '{path}', line {lineno}."
                    )
                n = LINE_OPTIONS[name]
                if i + n >= len(inner) + (n == 0):
                    raise TlsError(f"file '{path}', line {lineno}: '{name}' : missing value")
                opts[name] = inner[i + 1] if n else True
                i += 1 + n
        words = shlex.split(line)
        crt = words[0]
        if crt_base and not os.path.isabs(crt):
            crt = os.path.join(crt_base, crt)
        entry = CrtListLine(lineno, crt, opts)
        for w in words[1:]:
            (entry.excluded if w.startswith("!") else entry.filters).append(w.lstrip("!"))
        out.append(entry)
    return out
