"""Protocol version limits: ``ssl-min-ver``, ``ssl-max-ver``, ``no-*`` and
``force-*`` (configuration.txt §5.1 "ssl-min-ver", "no-tlsv13", "force-tlsv12").

HAProxy 2.6 defaults to ``ssl-min-ver TLSv1.2`` on binds and servers;
versions excluded by ``no-*`` inside the range shrink it from its ends
(OpenSSL has no holes)."""

from __future__ import annotations

import ssl

from pyhaproxy.tls.certs import TlsError

ORDER = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_TLS = {
    "SSLv3": ssl.TLSVersion.SSLv3,
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_FLAG = {"sslv3": "SSLv3", "tlsv10": "TLSv1.0", "tlsv11": "TLSv1.1", "tlsv12": "TLSv1.2"}
_FLAG["tlsv13"] = "TLSv1.3"
DEFAULT_MIN = "TLSv1.2"


def check_version(word: str) -> str:
    if word not in _TLS:
        raise TlsError(f"'{word}' : unknown ssl/tls version")
    return word


def version_range(opts: dict) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    """(minimum, maximum) for the options of a bind or server line."""
    forced = [v for f, v in _FLAG.items() if opts.get(f"force-{f}")]
    if forced:
        lo, hi = ORDER.index(forced[0]), ORDER.index(forced[-1])
    else:
        lo = ORDER.index(opts.get("ssl-min-ver") or DEFAULT_MIN)
        hi = ORDER.index(opts.get("ssl-max-ver") or ORDER[-1])
        if "ssl-min-ver" not in opts and "ssl-max-ver" in opts and hi < lo:
            lo = hi
        excluded = {ORDER.index(v) for f, v in _FLAG.items() if opts.get(f"no-{f}")}
        while lo <= hi and lo in excluded:
            lo += 1
        while hi >= lo and hi in excluded:
            hi -= 1
    if lo > hi:
        raise TlsError("all SSL/TLS versions are disabled")
    return _TLS[ORDER[lo]], _TLS[ORDER[hi]]
