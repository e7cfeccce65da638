"""The keys hashed by ``balance source|uri|url_param|hdr|rdp-cookie`` (configuration.txt
§4.2 "balance"), read from the session and the request head bytes only when
such an algorithm asks.  Each extractor returns the 32-bit hash or ``None``
when the key is missing ("round robin will apply").
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import Any

from pyhaproxy.lb.base import LbSettings, atoi
from pyhaproxy.lb.hashes import FUNCTIONS, cached, full_hash
from pyhaproxy.sample.payload import rdp_cookie

Key = Callable[[Any, bytes], "int | None"]

_CHUNKED = re.compile(rb"\ntransfer-encoding[ \t]*:[^\r]*chunked")


def _uri(head: bytes) -> bytes:
    end = head.find(b"\r\n")
    line = head[: end if end >= 0 else len(head)]
    a = line.find(b" ")
    b = line.rfind(b" ")
    return line[a + 1 : b] if 0 <= a < b else b""


def _path_only(uri: bytes) -> bytes:
    """The path of an absolute URI ("path-only"), as HAProxy's http_get_path."""
    if uri[:1] == b"/":
        return uri
    scheme = uri.find(b"://")
    if scheme < 0:
        return b""
    slash = uri.find(b"/", scheme + 3)
    return uri[slash:] if slash >= 0 else b""


def source_key(cfg: LbSettings) -> Key:
    """``balance source``: the client address, 32-bit words XORed (IPv6:
    four words), no hash function, then ``avalanche`` if configured."""
    aval = cfg.avalanche
    memo: dict[str, int] = {}  # recent client addresses

    def key(sess: Any, head: bytes) -> int | None:
        try:
            host = sess.transport.get_extra_info("peername")[0]
        except (AttributeError, TypeError, IndexError):
            return None  # not an IP client (unix socket): round robin
        h = memo.get(host)
        if h is not None:
            return h
        try:
            if ":" in host:
                raw = socket.inet_pton(socket.AF_INET6, host.partition("%")[0])
            else:
                raw = socket.inet_pton(socket.AF_INET, host)
        except (OSError, TypeError):
            return None
        h = 0
        for i in range(0, len(raw), 4):
            h ^= int.from_bytes(raw[i : i + 4], "big")
        if aval:
            h = full_hash(h)
        if len(memo) >= 4096:
            memo.clear()
        memo[host] = h
        return h

    return key


def uri_key(cfg: LbSettings) -> Key:
    """``balance uri [len N] [depth N] [whole] [path-only]``: the URI up to
    the '?' (unless ``whole``), at most ``len`` bytes and ``depth`` slashes."""
    whole = path_only = False
    length = depth = 0
    args = list(cfg.args)
    i = 0
    while i < len(args):  # as validated by config/keywords/balance.py
        opt = args[i]
        if opt == "len":
            length = atoi(args[i + 1])
            i += 1
        elif opt == "depth":
            depth = atoi(args[i + 1]) + 1  # the slash that ends the key
            i += 1
        elif opt == "whole":
            whole = True
        elif opt == "path-only":
            path_only = True
        i += 1
    hashed = cached(FUNCTIONS[cfg.function], cfg.avalanche)

    def key(sess: Any, head: bytes) -> int | None:
        uri = _uri(head)
        if path_only:
            uri = _path_only(uri)
        if length:
            uri = uri[:length]
        if not whole:
            q = uri.find(b"?")
            if q >= 0:
                uri = uri[:q]
        if depth:
            pos = -1
            for _ in range(depth):
                pos = uri.find(b"/", pos + 1)
                if pos < 0:
                    break
            if pos >= 0:
                uri = uri[:pos]
        return hashed(uri)

    return key


def _find_param(params: bytes, name: bytes, post: bool = False) -> bytes | None:
    """The value of ``name=`` in ``a=1&b=2`` (HAProxy's get_server_ph loop).

    In a POST body (``post``) a value must look URI-encoded, judged as
    HAProxy 2.6 judges it (get_server_ph_post): by its first byte only --
    a token byte takes the value up to ``&``, a blank makes it empty, any
    other byte means the body holds no parameters."""
    plen = len(name)
    while len(params) > plen:
        if params[plen : plen + 1] == b"=" and params[:plen] == name:
            value = params[plen + 1 :]
            amp = value.find(b"&")
            value = value if amp < 0 else value[:amp]
            if post and value and not _TOKEN[value[0]]:
                return b"" if value[0] in (0x20, 0x09, 0x0D, 0x0A) else None
            return value
        amp = params.find(b"&")
        if amp < 0:
            return None
        params = params[amp + 1 :]
    return None


_TOKEN = [chr(c).isalnum() or chr(c) in "!#$%&'*+-.^_`|~" for c in range(128)] + [False] * 128


def dechunk(body: bytes) -> bytes:
    """The data of a chunked body (RFC 9112 §7.1) as far as it was received
    (a cut chunk gives its bytes so far): what HAProxy's H1 mux puts in the
    request's HTX DATA block, which get_server_ph_post searches."""
    out = []
    pos, n = 0, len(body)
    while pos < n:
        eol = body.find(b"\n", pos)
        if eol < 0:
            break
        try:
            size = int(body[pos:eol].split(b";", 1)[0].strip(b" \t\r") or b"0", 16)
        except ValueError:
            break
        if not size:
            break
        out.append(body[eol + 1 : eol + 1 + size])
        pos = eol + 1 + size + 2
    return b"".join(out)


def url_param_key(cfg: LbSettings) -> Key:
    """``balance url_param NAME``: the value of NAME in the query string;
    for a POST without it, in the body (the data plane holds a POST until
    its body is in or the buffer is full, as HAProxy 2.6; a chunked body is
    searched de-chunked)."""
    name = cfg.args[0].encode() if cfg.args else b""
    hashed = cached(FUNCTIONS[cfg.function], cfg.avalanche)

    def key(sess: Any, head: bytes) -> int | None:
        uri = _uri(head)
        q = uri.find(b"?")
        value = _find_param(uri[q + 1 :], name) if q >= 0 else None
        if value is None and head[:5] == b"POST ":
            end = head.find(b"\r\n\r\n")
            body = head[end + 4 :] if end >= 0 else b""
            if body and _CHUNKED.search(head[: end + 2].lower()):
                body = dechunk(body)
            if body:
                value = _find_param(body, name, post=True)
        return None if value is None else hashed(value)

    return key


def _domain_only(v: bytes) -> bytes:
    """``use_domain_only``: "haproxy.1wt.eu" -> "1wt" (get_server_hh)."""
    n = p = end = len(v)
    dohash = False
    left = n
    while left:
        if dohash:
            if v[p - 1] == 0x2E:
                break
        elif p < n and v[p] == 0x2E:
            end = p
            dohash = True
        p -= 1
        left -= 1
    return v[p:end]


def hdr_key(cfg: LbSettings) -> Key:
    """``balance hdr(NAME) [use_domain_only]``: the first value of the first
    NAME header (values split at commas); absent or empty: round robin."""
    needle = b"\r\n" + cfg.param.lower().encode() + b":"
    domain = "use_domain_only" in cfg.args
    hashed = cached(FUNCTIONS[cfg.function], cfg.avalanche)

    def key(sess: Any, head: bytes) -> int | None:
        end = head.find(b"\r\n\r\n")
        block = head[: end + 2 if end >= 0 else len(head)]
        pos = block.lower().find(needle)
        if pos < 0:
            return None
        start = pos + len(needle)
        stop = block.find(b"\r\n", start)
        value = block[start : stop if stop >= 0 else len(block)]
        comma = value.find(b",")
        if comma >= 0:
            value = value[:comma]
        value = value.strip(b" \t")
        if not value:
            return None
        if domain:
            value = _domain_only(value)
        return hashed(value)

    return key


def rdp_cookie_key(cfg: LbSettings) -> Key:
    """``balance rdp-cookie[(NAME)]``: the value of the RDP cookie NAME
    (default ``mstshash``, any case) in the client's first bytes, the X.224
    Connection Request, as HAProxy's get_server_rch reads it with
    fetch_rdp_cookie_name (``sample/payload.py``).  Incomplete, malformed
    or empty: ``None`` (round robin, as configuration.txt §4.2 says)."""
    name = (cfg.param or "mstshash").lower().encode()
    hashed = cached(FUNCTIONS[cfg.function], cfg.avalanche)

    def key(sess: Any, head: bytes) -> int | None:
        found, value = rdp_cookie(head, name)
        return hashed(value) if found == 1 and value else None

    return key
