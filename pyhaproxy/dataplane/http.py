"""`mode http`: HTTP/1.1 streams, keep-alive on both sides (configuration.txt §4).

httptools finds message boundaries; the bytes received are forwarded as they
are.  Per client connection (``HttpSession``):

- request headers are gathered until complete (a server is chosen then, as
  HAProxy waits for the whole header block), then everything is streamed;
- one request at a time: bytes of a next request that arrive before the
  response ended are kept and reading pauses (pipelining is served in order;
  the end of a request is found from its Content-Length, or by walking the
  chunk sizes of a chunked body, ``ChunkWalker``);
- the response headers are gathered too, so a server that fails before them
  yields HAProxy's 502 page, one too slow yields 504, none usable 503;
- a server connection is reused when both messages allowed keep-alive; it is
  pooled per server (``pool.py``) between requests and shared as ``http-reuse``
  says (``safe``: never for the first request of a client connection); a
  reused connection the server closed before answering is retried once when
  the request had no body;
- timeouts: ``http-request`` (408) then ``client`` while receiving,
  ``connect``/``queue`` (503), ``server`` until the response head (504),
  ``http-keep-alive`` between requests (silent close);
- ``Upgrade`` (101) switches the connection to a byte tunnel, whose idle
  timeout is ``timeout tunnel`` when set; a half-close of either side goes
  on to the other (``timeout client-fin``/``server-fin`` from then);
- a connect attempt refused or timed out is retried (``retries``,
  ``option redispatch``, ``BackendRT.retry``); ``option abortonclose``
  drops a queued/connecting request whose client sent its FIN;
- flow control: each side's ``pause_writing`` pauses reading on the other.

- ``balance url_param``: a POST is held until its body is in or fills the
  buffer before the server is chosen, as HAProxy 2.6 (``_held``: reading
  goes on meanwhile, bounded by the buffer size; ``Expect: 100-continue`` is
  answered); other algorithms pay one attribute test per request;
- the request is routed per request (``use_backend`` conditions, ``be``);
- heads are rewritten only where HAProxy's H1 mux does (``h1hdr.py``): the
  hop-by-hop ``Connection`` tokens per side (``option http-keep-alive``,
  ``http-server-close``, ``httpclose``), ``option forwardfor|originalto``.

Logging (``pyhaproxy/log``): when the frontend logs (``log`` is not None,
else one attribute test per event) the stream records the facts its log line
reads (``logformat.STREAM_FACTS``: loop times, status, bytes, server, heads)
and its termination state where it really ends (``states.py``), and calls
``log.stream()`` once per transaction; a client connection closed between
requests logs nothing, ``monitor-uri`` requests are never logged.

Not yet: other header rewriting, 408/400 bodies via ``errorfile``.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser, HttpResponseParser

from pyhaproxy.dataplane import backend as obs  # OBS_*: ServerRT.observe codes
from pyhaproxy.dataplane.counters import count_status, failed_connect, failed_request
from pyhaproxy.dataplane.errors import BAD_REQUEST, ERROR_PAGES, REQUEST_TIMEOUT, closes
from pyhaproxy.dataplane.h1hdr import CLO, KAL, close_delimited, request_head, response_head
from pyhaproxy.log import states
from pyhaproxy.log.logformat import LOG_SLOTS

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import BackendRT, ServerRT
    from pyhaproxy.dataplane.routing import FrontendRT, Local
    from pyhaproxy.log.logger import ProxyLog

# a Host header line, any case (RFC 9110 §5.1: field names are case-insensitive)
# (matched against a lowercased head)
_HOST = re.compile(rb"\nhost[ \t]*:[ \t]*([^\r]*?)[ \t]*\r")


# a request body's framing, for the pipelining split (check_head)
_CLEN = re.compile(rb"\ncontent-length[ \t]*:[ \t]*(\d+)")
_CHUNKED = re.compile(rb"\ntransfer-encoding[ \t]*:[^\r]*chunked")
CHUNKED = -(1 << 62)
# an Expect header asking for 100-continue (its value any case)
_EXPECT = re.compile(rb"\r\nexpect[ \t]*:[ \t]*100-continue[ \t]*\r\n", re.IGNORECASE)
HOLD, HOLD_CHECKED, HOLD_EXPECT = 1, 2, 3  # HttpSession.hold: a POST held for its body


class ChunkWalker:
    """Follows the framing of a chunked request body (RFC 9112 §7.1) to find
    where it ends; only chunked requests pay for it (the pipelining split)."""

    __slots__ = ("left", "state", "line")

    SIZE, DATA, TRAILER = range(3)

    def __init__(self) -> None:
        self.left = 0  # chunk data + CRLF bytes still to skip
        self.state = self.SIZE
        self.line = b""  # a size or trailer line cut by a segment end

    def feed(self, data: bytes, pos: int) -> int:
        """Walk ``data`` from ``pos``; the offset just after the message, or -1."""
        n = len(data)
        while pos < n:
            if self.state == self.DATA:
                step = min(self.left, n - pos)
                pos += step
                self.left -= step
                if not self.left:
                    self.state = self.SIZE
                continue
            eol = data.find(b"\n", pos)
            if eol < 0:
                self.line += data[pos:]
                return -1
            line = (self.line + data[pos:eol]).rstrip(b"\r")
            self.line = b""
            pos = eol + 1
            if self.state == self.TRAILER:
                if not line:
                    return pos
                continue
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size:
                self.left, self.state = size + 2, self.DATA
            else:
                self.state = self.TRAILER
        return -1


class HeadError(Exception):
    """A message head HAProxy's H1 parser refuses (400 / 502)."""


def http_limits(tune: dict) -> tuple[int, int]:
    """(largest head, most header lines) from ``tune.bufsize`` minus
    ``tune.maxrewrite`` and ``tune.http.maxhdr`` (configuration.txt §3.2)."""
    bufsize = tune.get("tune.bufsize") or 16384
    maxrewrite = tune.get("tune.maxrewrite")
    if maxrewrite is None:
        maxrewrite = min(1024, bufsize // 2)
    return bufsize - maxrewrite, tune.get("tune.http.maxhdr") or 101


def check_head(head: list[bytes] | None, chunk: bytes, limits: tuple[int, int], req: bool) -> int:
    """Refuse what httptools accepts but haproxy 2.6 does not: a head larger
    than ``tune.bufsize - tune.maxrewrite``, ``tune.http.maxhdr`` headers or
    more, a request line without an HTTP version (HTTP/0.9), and two Host
    headers that differ.  ``head`` + ``chunk`` start with the message.

    For a request, returns where its body would end relative to the end of
    ``chunk``: ``Content-Length`` (or ``CHUNKED``) minus the body bytes
    already in ``chunk``; the pipelining split uses it."""
    buf = b"".join(head) + chunk if head else chunk
    end = buf.find(b"\r\n\r\n")
    max_head, max_hdr = limits
    if end < 0 or end + 4 > max_head or buf.count(b"\n", 0, end) >= max_hdr:
        raise HeadError
    if not req:
        return 0
    first = buf.find(b"\r\n")
    if buf[first - 9 : first - 3] != b" HTTP/":
        raise HeadError
    low = buf[: end + 2].lower()  # field names are case-insensitive
    if low.count(b"\nhost") > 1:
        hosts = _HOST.findall(low)
        if any(h != hosts[0] for h in hosts):
            raise HeadError
    length = 0
    if b"\ncontent-length" in low:  # most requests have no body
        m = _CLEN.search(low)
        if m is not None:
            length = int(m.group(1))
    elif b"\ntransfer-encoding" in low and _CHUNKED.search(low):
        length = CHUNKED
    return length - (len(buf) - end - 4)


MAX_SESSION_SRV_CONNS = 10  # HAProxy's max-session-srv-conns default

IDLE, HEAD, SEND, WAIT, DONE = range(5)  # client stream states


class HttpServerSide(asyncio.Protocol):
    """A server connection, serving one stream at a time."""

    __slots__ = (
        "srv",
        "transport",
        "parser",
        "sess",
        "head",
        "headers_done",
        "done",
        "interim",
        "head_req",
        "received",
        "keepalive",
        "uses",
        "period",
        "chunk",
    )

    def __init__(self, srv: ServerRT) -> None:
        self.srv = srv
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = HttpResponseParser(self)
        self.sess: HttpSession | None = None
        self.head: list[bytes] | None = []
        self.headers_done = self.done = self.interim = self.head_req = False
        self.received = self.keepalive = False
        self.uses = self.period = 0
        self.chunk = b""

    def begin(self, sess: HttpSession, head_req: bool) -> None:
        self.sess = sess
        self.uses += 1
        self.head_req = head_req
        self.head = []
        self.headers_done = self.done = self.interim = self.received = False

    # ---- protocol interface -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        sess = self.sess
        if sess is None:  # idle connection talking: drop it
            self.transport.close()
            return
        self.received = True
        sess.fe.c.bout += len(data)
        self.srv.c.bout += len(data)
        if sess.tunnel and self.headers_done:  # the 101 was parsed: raw bytes now
            sess.wheel.arm(sess, sess.timeout_server)
            if sess.log is not None:
                sess.bytes_out += len(data)
            sess.transport.write(data)
            return
        sess.wheel.arm(sess, sess.timeout_server)
        if not self.headers_done:
            self.chunk = data
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade:
            sess.tunnel = True
            self.headers_done = True
            self.done = False  # the 101 "message" completed: the tunnel starts
            tunnel = self.srv.backend.timeout_tunnel
            if tunnel:  # supersedes client and server timeouts (configuration.txt)
                sess.timeout_client = sess.timeout_server = tunnel
                sess.wheel.arm(sess, tunnel)
        except HttpParserError:
            if not self.headers_done:
                sess.server_failed(502, states.PROXY_BAD_RESPONSE, seen=obs.OBS_HTTP_HDRRSP)
                return
            self.done = True
            sess.keepalive = False
        head = self.head
        log = sess.log
        if head is not None:
            if not self.headers_done:
                head.append(data)
                if sum(map(len, head)) > sess.runtime.http_limits[0]:
                    sess.server_failed(502, states.PROXY_BAD_RESPONSE, seen=obs.OBS_HTTP_HDRRSP)
                return
            if head:
                head.append(data)
                data = b"".join(head)
            self.head = None
            if data[9:10] != b"1":  # not an interim/101 head: Connection per side
                data = sess.response_head(self, data)
                if log is not None:
                    sess.rsp_head = data
        if log is not None:
            sess.bytes_out += len(data)
        sess.transport.write(data)
        if self.done:
            sess.response_done(self)

    def eof_received(self) -> bool:
        sess = self.sess
        if sess is not None and sess.tunnel and self.headers_done:
            self.done = True  # this direction of the tunnel ended
            # TLS has no half-close: its transport closes whatever we answer
            return sess.tunnel_eof(from_client=False) and self.transport.can_write_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        sess = self.sess
        if sess is None:
            self.srv.pool.discard(self)
            return
        if sess.tunnel:
            if sess.log is not None and exc is not None and not sess.term:
                sess.term = states.SERVER_ABORT_DATA
            sess.close()
        elif not self.headers_done:
            sess.server_failed(
                502,
                states.SERVER_ABORT_HEADERS,
                retry=not self.received,
                seen=obs.OBS_BROKEN_PIPE if exc is None else obs.OBS_READ_ERROR,
            )
        elif not self.done:
            # close-delimited body ends with the connection
            sess.keepalive = False
            if sess.log is not None:
                head = sess.rsp_head
                if exc is not None or head is None or not close_delimited(head, self.head_req):
                    sess.term = states.SERVER_ABORT_DATA  # cut in the middle of its body
            sess.response_done(self, reusable=False)

    def pause_writing(self) -> None:
        if self.sess is not None:
            self.sess.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.sess is not None:
            self.sess.transport.resume_reading()

    # ---- parser callbacks ---------------------------------------------------

    def on_headers_complete(self) -> None:
        if not self.interim:
            check_head(self.head, self.chunk, self.sess.runtime.http_limits, False)  # type: ignore[union-attr]
        status = self.parser.get_status_code()
        self.keepalive = self.parser.should_keep_alive()
        if status < 200 and status != 101:
            self.interim = True
        else:
            self.interim = False
            sess = self.sess
            count_status(status, self.srv.c, self.srv.backend.c, sess.fe.c)  # type: ignore[union-attr]
            if self.srv.observe is not None:  # observe layer7 (checks/observe.py)
                self.srv.observe(obs.observed_status(status))
            if sess.log is not None:  # type: ignore[union-attr]
                sess.status = status  # type: ignore[union-attr]
                sess.t_response = sess.log.clock()  # type: ignore[union-attr]
            if self.head_req:
                self.done = True
                self.parser = HttpResponseParser(self)  # its body will not come
        self.headers_done = True

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.done = True


class HttpSession(asyncio.Protocol):
    """A client connection and the stream in progress on it."""

    __slots__ = (
        "fe",
        "runtime",
        "wheel",
        "transport",
        "parser",
        "state",
        "head",
        "out",
        "stash",
        "server",
        "srv",
        "task",
        "keepalive",
        "head_req",
        "req_complete",
        "pipelined",
        "body_left",
        "walker",
        "tunnel",
        "closed",
        "reused",
        "sent_head",
        "deadline",
        "timer_slot",
        "timeout_client",
        "timeout_server",
        "error",
        "listener",
        "served",
        "eof",
        "private",
        "local",
        "chunk",
        "tries",
        "be",
        "hold",
        "mode",
        "v10",
        "log",
        "born",  # loop time of the accept (runtime/sessions.py: show sess)
        # what the log line reads (logformat.STREAM_FACTS): set only when
        # the frontend logs (``log`` is not None)
        *LOG_SLOTS,
    )

    def __init__(self, fe: FrontendRT) -> None:
        self.fe = fe
        self.log = log = fe.log  # its ProxyLog, or None: one test per event
        if log is not None:  # the facts its line reads (LOG_SLOTS), clean
            log.reset(self)
            self.addrs = None
        self.listener = None
        self.served = self.eof = False
        self.private: list[HttpServerSide] | None = None  # `http-reuse never`
        self.chunk = b""  # the bytes being parsed while the head is incomplete
        self.local = fe.local  # the local answer of this request (routing.py)
        self.runtime = fe.runtime
        self.wheel = fe.runtime.wheel
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = HttpRequestParser(self)
        self.state = IDLE
        self.head: list[bytes] | None = None
        self.out: list[bytes] | None = None
        self.stash: bytes | None = None
        self.server: HttpServerSide | None = None
        self.srv: ServerRT | None = None
        self.task: asyncio.Task | None = None
        self.keepalive = self.head_req = self.req_complete = False
        self.pipelined = self.tunnel = self.closed = self.reused = False
        self.body_left = 0  # body bytes of this request still to come (check_head)
        self.walker: ChunkWalker | None = None  # a chunked request body's framing
        self.sent_head: bytes | None = None
        self.deadline: float | None = None
        self.timer_slot: int | None = None
        self.timeout_client = fe.timeout_client
        self.be = fe.backend  # this request's backend (use_backend rules set it)
        self.tries = 0  # failed connect attempts of this request
        # a POST held for its body before the server is chosen (url_param)
        self.hold = 0
        self.mode = KAL  # this request's connection mode (h1hdr.py)
        self.v10 = False  # an HTTP/1.0 request
        self.timeout_server = fe.backend.timeout_server if fe.backend else None
        self.error = 0

    # ---- protocol interface -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        rt = self.runtime
        rt.sessions.add(self)
        self.born = rt.loop.time()
        self.wheel.arm(self, self.fe.timeout_http_request or self.timeout_client)
        if self.log is not None:
            self.t_accept = self.log.begin(self)

    def data_received(self, data: bytes) -> None:
        self.fe.c.bin += len(data)
        if self.tunnel:
            self.wheel.arm(self, self.timeout_client)
            if self.log is not None:
                self.bytes_in += len(data)
            if self.server is not None:
                self.server.transport.write(data)
            else:
                if self.out is None:
                    self.out = []
                self.out.append(data)
                self.transport.pause_reading()
            return
        state = self.state
        if state >= WAIT:
            # the next request waits for the end of the response
            self.stash = data if self.stash is None else self.stash + data
            self.transport.pause_reading()
            return
        fe = self.fe
        log = self.log
        if state == IDLE:
            self.state = state = HEAD
            self.head = []
            if log is not None:
                self.t_request = log.clock()
            # `timeout http-request` runs from accept, or from the first byte
            # of a next request; `timeout client` otherwise (configuration.txt)
            if fe.timeout_http_request:
                if self.served:
                    self.wheel.arm(self, fe.timeout_http_request)
            else:
                self.wheel.arm(self, self.timeout_client)
        elif state == SEND or not fe.timeout_http_request:
            self.wheel.arm(self, self.timeout_client)
        if state == HEAD:
            self.chunk = data
        elif self.walker is None:
            self.body_left -= len(data)
        else:
            self._walk(data, 0)
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade:
            self.req_complete = True
            self.tunnel = True
        except HttpParserError:
            if log is not None:
                self.bytes_in += len(data)
            self._bad_request()
            return
        if self.pipelined:
            data = self._split(data)
        if log is not None:
            self.bytes_in += len(data)
        head = self.head
        if head is not None:
            head.append(data)
            if self.state == HEAD:
                if sum(map(len, head)) > self.runtime.http_limits[0]:
                    self._bad_request()
                return
            data = b"".join(head) if len(head) > 1 else head[0]
            self.head = None
            if log is not None:
                self.req_head = data  # as received: %r, %U, captures
            if fe.rules is not None:  # http-request rules, use_backend (routing.py)
                self.local = fe.rules(self, data)
                if self.local is None:
                    self._start(data)
            if self.local is None:
                data = self._request_head(data)
            if self.req_complete:
                self.sent_head = data
        if self.error or self.local is not None:
            local = self.local
            if head is None and local is not None and type(local) is not tuple:
                local.feed(data)  # a local answer reading the body (stats admin POST)
            if self.req_complete:
                if self.error:
                    self._send_error(self.error)
                else:
                    self._send_local()
            return
        server = self.server
        if server is not None:
            server.srv.c.bin += len(data)
            server.transport.write(data)
        else:
            if self.out is None:
                self.out = []
            self.out.append(data)
            if self.hold:
                self._held()
            elif not self.req_complete:  # a complete request: read on, to see an abort
                self.transport.pause_reading()
        if self.req_complete and self.state == SEND:
            self.state = WAIT
            if server is not None:
                self.wheel.arm(self, self.timeout_server)

    def eof_received(self) -> bool:
        if self.tunnel and self.server is not None:
            self.eof = True
            return self.tunnel_eof(from_client=True) and self.transport.can_write_eof()
        if self.state in (IDLE, HEAD) and self.stash is None:
            self.close()
            return False
        be = self.be
        if be is not None and be.abortonclose and self.server is None and self.out is not None:
            # option abortonclose: queued or connecting, the request is dropped
            self.close()
            return False
        self.eof = True  # answer what was received, then close
        return self.transport.can_write_eof()  # TLS: the transport closes anyway

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.tunnel and self.log is not None and not self.term:
            self.term = states.CLIENT_ABORT_DATA  # a tunnel reset by the client
        self.close()

    def pause_writing(self) -> None:
        if self.server is not None:
            self.server.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.server is not None:
            self.server.transport.resume_reading()

    # ---- parser callbacks ---------------------------------------------------

    def on_message_begin(self) -> None:
        if self.state >= SEND or self.req_complete:
            self.pipelined = True

    def on_headers_complete(self) -> None:
        if self.pipelined:
            return
        self.fe.c.req_tot += 1
        left = check_head(self.head, self.chunk, self.runtime.http_limits, True)
        if self.log is not None:
            self.t_head = self.log.clock()
        chunk = self.chunk
        self.chunk = b""
        self.walker = None
        if left > CHUNKED // 2:
            self.body_left = left
        else:  # chunked: walk its framing from the body's first byte
            self.walker = ChunkWalker()
            self._walk(chunk, len(chunk) - (CHUNKED - left))
        parser = self.parser
        self.keepalive = parser.should_keep_alive()
        self.head_req = parser.get_method() == b"HEAD"
        self.state = SEND
        if self.fe.local is None and self.fe.rules is None:
            # the head so far: for a balance algorithm hashing a request key
            self._start(b"".join((*self.head, chunk)) if self.head else chunk)

    def on_message_complete(self) -> None:
        if not self.pipelined:
            self.req_complete = True

    # ---- stream logic -------------------------------------------------------

    def _walk(self, data: bytes, pos: int) -> None:
        end = self.walker.feed(data, pos)  # type: ignore[union-attr]
        if end >= 0:
            self.walker = None
            self.body_left = end - len(data)

    def _split(self, data: bytes) -> bytes:
        """Keep what follows the request that ended in ``data`` for later:
        it ends ``body_left`` bytes from the end of ``data`` (minus: before)."""
        self.pipelined = False
        self.parser = HttpRequestParser(self)
        end = min(max(len(data) + self.body_left, 0), len(data))
        tail = data[end:]
        self.stash = tail if self.stash is None else tail + self.stash
        return data[:end]

    def _start(self, head: bytes = b"") -> None:
        be = self.be
        if be is None:
            self.error = 503
            if self.log is not None:
                self.term = states.NO_SERVER
            return
        if be.lb.waits_body and self.parser.get_method() == b"POST":
            # ``balance url_param``: HAProxy 2.6 chooses the server of a
            # POST once its body is in or the request buffer is full
            # (configuration.txt §4.2 "balance": "The message body will
            # only start to be analyzed once either the advertised amount
            # of data has been received or the request buffer is full");
            # data_received reads on into ``out`` meanwhile (``_held``)
            self.hold = HOLD
            return
        self._acquire(be, head)

    def _held(self) -> None:
        """More of a held POST is in ``out``: choose the server once the
        body is complete or fills the buffer (``tune.bufsize`` minus
        ``tune.maxrewrite``, the H1 mux's limit too).  While it waits, an
        HTTP/1.1 ``Expect: 100-continue`` is answered here and its header
        removed, as http_wait_for_msg_body / http_handle_expect_hdr do."""
        out = self.out
        assert out is not None
        if not self.req_complete and sum(map(len, out)) < self.runtime.http_limits[0]:
            if self.hold == HOLD:
                self.hold = HOLD_CHECKED
                # `timeout client` bounds the wait, `timeout http-request` too
                limit = self.fe.timeout_http_request
                client = self.timeout_client
                self.wheel.arm(self, min(limit, client) if limit and client else limit or client)
                head = out[0]
                end = head.find(b"\r\n\r\n")
                if not self.v10 and _EXPECT.search(head, 0, end + 2):
                    self.hold = HOLD_EXPECT
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        data = b"".join(out) if len(out) > 1 else out[0]
        if self.hold == HOLD_EXPECT:
            data = _EXPECT.sub(b"\r\n", data, 1)
        self.hold = 0
        self.out = [data]
        be = self.be
        assert be is not None
        self._acquire(be, data)
        if self.error:
            self.out = None
            if self.req_complete:
                self._send_error(self.error)
        elif self.server is None and not self.req_complete:
            self.transport.pause_reading()  # flow control until connected

    def _acquire(self, be: BackendRT, head: bytes) -> None:
        self.timeout_server = be.timeout_server
        self.tries = 0
        be.c.req_tot += 1
        got = be.acquire(self, head=head)
        if got is None:
            self.error = 503
            if self.log is not None:
                self.term = states.NO_SERVER
        elif got is True:
            if self.out is None:  # a held POST keeps its bytes
                self.out = []
            self.wheel.arm(self, be.timeout_queue)
            if self.log is not None:
                self.queued = len(be.queue)
        else:
            self.dequeued(got)  # type: ignore[arg-type]

    def dequeued(self, srv: ServerRT) -> None:
        self.srv = srv
        if self.log is not None:
            self.t_queue = self.log.clock()
            self.log_srv = srv
        mode = srv.backend.reuse
        never = mode == "never"
        conn = self._take_private(srv) if never else srv.pool.take(not self.served, mode)
        if conn is not None:
            self.reused = True
            srv.c.reuse += 1
            self._attach(conn)
            return
        self._connect(srv)

    def _take_private(self, srv: ServerRT) -> HttpServerSide | None:
        private = self.private
        if private:
            for i, conn in enumerate(private):
                if conn.srv is srv and not conn.transport.is_closing():
                    del private[i]
                    return conn
        return None

    def _connect(self, srv: ServerRT, delay: float = 0.0) -> None:
        be = srv.backend
        self.reused = False
        if self.out is None:
            self.out = []
        # `timeout connect` per attempt, after the turn-around delay
        self.wheel.arm(self, (be.timeout_connect or 0) and be.timeout_connect + int(delay * 1000))
        self.task = self.runtime.loop.create_task(
            srv.connect(lambda: HttpServerSide(srv), delay, self.transport)
        )
        self.task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task) -> None:
        if task is not self.task:
            return  # an attempt given up (timed out) before it completed
        self.task = None
        if task.cancelled():
            return
        if task.exception() is not None:
            if not self.closed:
                self._connect_failed()
            return
        conn = task.result()
        if self.closed:
            conn.transport.close()
            return
        conn.srv.c.connect += 1
        self._attach(conn)

    def _connect_failed(self, timed_out: bool = False) -> None:
        """A connect attempt was refused or timed out: retry, maybe on
        another server (``BackendRT.retry``), or answer 503."""
        srv = self.srv
        assert srv is not None
        be = srv.backend
        self.tries += 1
        failed_connect(srv.c, be.c)
        if srv.observe is not None:  # observe layer4|7 (checks/observe.py)
            srv.observe(obs.OBS_L4_ERR)
        step = be.retry(srv, self.tries, timed_out)
        if step is not None:
            redispatch, delay = step
            if not redispatch:
                self._connect(srv, delay)
                return
            self._release()
            if be.assign(self, avoid=srv, head=self.sent_head or b""):
                return
        self.out = None
        self._release()
        if self.log is not None:
            self.term = states.SERVER_TIMEOUT_CONNECT if timed_out else states.SERVER_REFUSED
        self._send_error(503)

    def _attach(self, conn: HttpServerSide) -> None:
        self.server = conn
        conn.begin(self, self.head_req)
        if conn.srv.observe is not None:  # observe layer4 (checks/observe.py)
            conn.srv.observe(obs.OBS_L4_OK)
        if self.log is not None:
            self.t_connect = self.log.clock()
        out = self.out
        self.out = None
        if out:
            conn.srv.c.bin += sum(map(len, out))
            conn.transport.write(b"".join(out) if len(out) > 1 else out[0])
        if self.req_complete:
            if self.state == SEND:
                self.state = WAIT
            self.wheel.arm(self, self.timeout_server)
        else:
            self.transport.resume_reading()
            self.wheel.arm(self, self.timeout_client)
        if self.tunnel:
            self.transport.resume_reading()

    def _release(self) -> None:
        srv = self.srv
        if srv is not None:
            self.srv = None
            srv.backend.release(srv)

    def _request_head(self, data: bytes) -> bytes:
        """The connection mode of this request; its head as the server gets it."""
        mode, fwd = self.fe.modes[self.be]
        self.mode = mode
        if mode == CLO:
            self.keepalive = False
        first = data.find(b"\r\n")
        self.v10 = v10 = data[first - 3 : first] == b"1.0"
        return request_head(data, mode == KAL, v10, fwd, self.transport)

    def response_head(self, conn: HttpServerSide, data: bytes) -> bytes:
        """A response head as the client gets it (``Connection`` of this side)."""
        keep = self.keepalive and self.mode != CLO and not self.runtime.stopping
        if keep and not conn.keepalive and close_delimited(data, self.head_req):
            self.keepalive = keep = False  # its body ends with the connection
        return response_head(data, keep, self.v10)

    def response_done(self, conn: HttpServerSide, reusable: bool = True) -> None:
        """The server finished its response on ``conn``."""
        self.server = None
        stopping = self.runtime.stopping
        keep = self.keepalive and self.req_complete and not stopping
        conn.sess = None
        # the server side stays open in keep-alive mode whatever the client
        # side does (http-server-close / httpclose: closed after each response)
        if (
            reusable
            and self.mode == KAL
            and self.req_complete
            and conn.keepalive
            and not self.tunnel
            and not stopping
        ):
            if conn.srv.backend.reuse == "never":
                # kept for this client only, as HAProxy's session connection
                # list (max-session-srv-conns: 10)
                if self.private is None:
                    self.private = []
                self.private.append(conn)
                if len(self.private) > MAX_SESSION_SRV_CONNS:
                    self.private.pop(0).transport.close()
            else:
                conn.srv.pool.put(conn)  # before the release, for a queued stream
        else:
            conn.transport.close()
        self._release()
        if self.log is not None:
            self.log.stream(self)
        if not keep:
            self.state = DONE
            self.close()
            return
        self._next()

    def _next(self) -> None:
        self.served = True
        self.state = IDLE
        self.req_complete = False
        self.error = 0
        self.out = None
        self.sent_head = None
        self.local = self.fe.local
        self.wheel.arm(self, self.fe.timeout_keep_alive)
        stash = self.stash
        self.stash = None
        if stash:
            self.transport.resume_reading()
            self.data_received(stash)
        elif self.eof:
            self.state = DONE
            self.close()
        else:
            self.transport.resume_reading()

    def tunnel_eof(self, from_client: bool) -> bool:
        """A half-close in a tunnel goes on to the other side, whose
        ``timeout server-fin`` / ``client-fin`` (if set) applies from then
        (configuration.txt §4 "timeout client-fin"); both ended: close."""
        server = self.server
        assert server is not None
        if self.eof and server.done:
            self.close()
            return False
        if from_client:
            if server.transport.can_write_eof():  # TLS: no half-close
                server.transport.write_eof()
            fin = server.srv.backend.timeout_server_fin
            if fin:
                self.timeout_server = fin
            self.wheel.arm(self, self.timeout_server)
        else:
            if self.transport.can_write_eof():
                self.transport.write_eof()
            else:  # TLS: close_notify after the pending data, then close
                self.transport.close()
            if self.fe.timeout_client_fin:
                self.timeout_client = self.fe.timeout_client_fin
            self.wheel.arm(self, self.timeout_client)
        return True

    def server_failed(self, status: int, term: str, retry: bool = False, seen: int = 0) -> None:
        """The server connection failed before a complete response head
        (``term``: the termination state logged, states.py; ``seen``: what
        ``observe`` is told, backend.OBS_*)."""
        conn = self.server
        self.server = None
        if conn is not None:
            conn.sess = None
            conn.transport.close()
        if retry and self.reused and self.sent_head is not None and self.srv is not None:
            # a reused idle connection closed by the server: resend once
            self.out = [self.sent_head]
            self._connect(self.srv)
            return
        srv = self.srv
        if seen and srv is not None and srv.observe is not None:
            srv.observe(seen)
        self._release()
        if self.log is not None:
            self.term = term
        self._send_error(status)

    def _bad_request(self) -> None:
        count_status(400, self.fe.c)
        self.fe.c.ereq += 1
        self.transport.write(BAD_REQUEST)
        log = self.log
        if log is not None:  # HAProxy's mux answers: no bytes, no request logged
            self.status, self.term, self.req_head = 400, states.PROXY_DENY, None
            log.stream(self)
        self.state = DONE
        self.close()

    def _send_error(self, status: int) -> None:
        self.error = 0
        close = not (self.keepalive and self.req_complete) or self.runtime.stopping
        be = self.be
        pages = ERROR_PAGES if be is None else be.pages
        page = pages[(status, close)]
        count_status(status, self.fe.c, *((be.c,) if be is not None else ()))
        if pages is not ERROR_PAGES and not close:
            close = closes(page)  # an errorfile may end the connection
        if page:  # an empty errorfile (/dev/null): close without an answer
            self.transport.write(page)
        log = self.log
        if log is not None:
            self.status = status
            self.bytes_out += len(page)
            self.rsp_head = page
            log.stream(self)
        self._finish_local(close)

    def _send_local(self) -> None:
        close = not self.keepalive or self.runtime.stopping
        local = self.local
        assert local is not None
        page = local[self.head_req][close]
        self.fe.c.intercepted += 1
        status = int(page[9:12]) if page[9:12].isdigit() else 0
        count_status(status, self.fe.c)
        self.transport.write(page)
        log = self.log
        if log is not None:
            self._log_local(log, local, page, status)
        self._finish_local(close)

    def _log_local(self, log: ProxyLog, local: Local, page: bytes, status: int) -> None:
        """A local answer ends the stream: ``PR`` for ``http-request deny``
        (its page is the built-in error page), ``LR`` for return/redirect;
        ``monitor-uri`` requests are never logged (configuration.txt §8)."""
        self.status = status
        self.bytes_out += len(page)
        self.rsp_head = page
        builtin = ERROR_PAGES.get((status, False))
        if builtin is not None and local[0][0] is builtin:
            if status == 200 and log.is_monitor(self.req_head):
                log.reset(self)
                return
            self.term = states.PROXY_DENY
        else:
            self.term = states.LOCAL_RESPONSE
        log.stream(self)

    def _finish_local(self, close: bool) -> None:
        if close:
            self.state = DONE
            self.close()
        else:
            self._next()

    def on_timeout(self) -> None:
        state = self.state
        log = self.log
        if self.hold:
            # the body of a held POST did not come in time: the stream's 408
            # (http_wait_for_msg_body), counted as a failed request, cR
            self.hold = 0
            self.out = None
            self.fe.c.ereq += 1
            if log is not None:
                self.term = states.CLIENT_TIMEOUT_REQUEST
            self._send_error(408)
            return
        if self.task is not None and self.server is None:
            # `timeout connect`: a failed attempt, retried as a refused one
            task, self.task = self.task, None
            task.cancel()
            self._connect_failed(timed_out=True)
        elif self.task is not None or (self.srv is None and self.out is not None):
            # still queued or connecting
            if self.task is not None:
                self.task.cancel()
                self.task = None
            else:
                self.be.unqueue(self)  # type: ignore[union-attr]
                if log is not None:  # `timeout queue`: sQ, Tw measured
                    self.term = states.SERVER_TIMEOUT_QUEUE
                    self.t_queue = log.clock()
            self._release()
            self._send_error(503)
        elif state == WAIT and self.server is not None and not self.server.headers_done:
            conn = self.server
            self.server = None
            conn.sess = None
            conn.transport.close()
            srv = self.srv
            if srv is not None and srv.observe is not None:
                srv.observe(obs.OBS_READ_TIMEOUT)
            self._release()
            if log is not None:
                self.term = states.SERVER_TIMEOUT_HEADERS
            self._send_error(504)
        elif state == HEAD or (state == IDLE and not self.served):
            # nothing or part of a request: HAProxy answers 408 (mux H1)
            failed_request(self.fe.c, 408)
            self.transport.write(REQUEST_TIMEOUT)
            if log is not None:  # the mux's answer: no bytes counted
                self.status, self.term = 408, states.CLIENT_TIMEOUT_REQUEST
                log.stream(self)
            self.state = DONE
            self.close()
        else:
            if log is not None and state != IDLE and not self.term:
                self.term = self._timeout_term()
            self.close()

    def _timeout_term(self) -> str:
        """Which side's timeout ended a stream in its data phase (a tunnel,
        a request body, a response body)."""
        if self.state == SEND and not self.tunnel:
            return states.CLIENT_TIMEOUT_DATA  # the request body stalled
        if self.tunnel and (self.timeout_client or 0) <= (self.timeout_server or 0):
            return states.CLIENT_TIMEOUT_DATA
        if self.tunnel or self.server is not None:
            return states.SERVER_TIMEOUT_DATA
        return states.CLIENT_TIMEOUT_DATA

    def _abort_term(self) -> str:
        """The state of a stream whose client went away (configuration.txt
        §8.5): in the request, queued, connecting, waiting for the response
        head, or in the data phase."""
        if self.state in (IDLE, HEAD):
            return states.CLIENT_ABORT_REQUEST
        if self.task is not None:
            return states.CLIENT_ABORT_CONNECT
        if self.server is None and self.out is not None and self.srv is None:
            return states.CLIENT_ABORT_QUEUE
        server = self.server
        if server is not None and not server.headers_done:
            return states.CLIENT_ABORT_HEADERS
        return states.CLIENT_ABORT_DATA

    def soft_close(self) -> None:
        """Soft stop: idle keep-alive connections close now, others after
        their response."""
        if self.state == IDLE:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.deadline = None
        state = self.state
        if state in (IDLE, HEAD) and not self.served:
            failed_request(self.fe.c, 400)  # closed before a whole first request
        log = self.log
        # an idle connection closed between requests, or unused at a stop,
        # carries no stream: nothing to log
        if (
            log is not None
            and state != DONE
            and (state != IDLE or not (self.served or self.runtime.stopping))
        ):
            self._log_end(log)
        if self.task is not None:
            self.task.cancel()
            self.task = None
        elif self.srv is None and self.out is not None and self.be is not None:
            self.be.unqueue(self)
        conn = self.server
        if conn is not None:
            self.server = None
            conn.sess = None
            conn.transport.close()
        if self.private is not None:
            for c in self.private:
                c.transport.close()
            self.private = None
        self._release()
        self.transport.close()
        self.runtime.session_done(self)

    def _log_end(self, log: ProxyLog) -> None:
        """The connection closes with a stream in progress: log it once, as
        HAProxy (an aborted or empty request: 400 ``CR``, no bytes sent)."""
        if self.tunnel:
            pass  # a tunnel ends with either side: its state is set if abnormal
        elif not self.term:
            self.term = self._abort_term()
        if self.state in (IDLE, HEAD):
            self.status = 400
        log.stream(self)
