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

- the request is routed per request (``use_backend`` conditions, ``be``);
- heads are rewritten only where HAProxy's H1 mux does (``h1hdr.py``): the
  hop-by-hop ``Connection`` tokens per side (``option http-keep-alive``,
  ``http-server-close``, ``httpclose``), ``option forwardfor|originalto``.

Not yet: other header rewriting, 408/400 bodies via ``errorfile``.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser, HttpResponseParser

from pyhaproxy.dataplane.errors import BAD_REQUEST, ERROR_PAGES, REQUEST_TIMEOUT, closes
from pyhaproxy.dataplane.h1hdr import CLO, KAL, close_delimited, request_head, response_head

if TYPE_CHECKING:
    from pyhaproxy.dataplane.backend import ServerRT
    from pyhaproxy.dataplane.routing import FrontendRT

# a Host header line, any case (RFC 9110 §5.1: field names are case-insensitive)
# (matched against a lowercased head)
_HOST = re.compile(rb"\nhost[ \t]*:[ \t]*([^\r]*?)[ \t]*\r")


# a request body's framing, for the pipelining split (check_head)
_CLEN = re.compile(rb"\ncontent-length[ \t]*:[ \t]*(\d+)")
_CHUNKED = re.compile(rb"\ntransfer-encoding[ \t]*:[^\r]*chunked")
CHUNKED = -(1 << 62)


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
        if sess.tunnel and self.headers_done:  # the 101 was parsed: raw bytes now
            sess.wheel.arm(sess, sess.timeout_server)
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
                sess.server_failed(502)
                return
            self.done = True
            sess.keepalive = False
        head = self.head
        if head is not None:
            if not self.headers_done:
                head.append(data)
                if sum(map(len, head)) > sess.runtime.http_limits[0]:
                    sess.server_failed(502)
                return
            if head:
                head.append(data)
                data = b"".join(head)
            self.head = None
            if data[9:10] != b"1":  # not an interim/101 head: Connection per side
                data = sess.response_head(self, data)
        sess.transport.write(data)
        if self.done:
            sess.response_done(self)

    def eof_received(self) -> bool:
        sess = self.sess
        if sess is not None and sess.tunnel and self.headers_done:
            self.done = True  # this direction of the tunnel ended
            return sess.tunnel_eof(from_client=False)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        sess = self.sess
        if sess is None:
            self.srv.pool.discard(self)
            return
        if sess.tunnel:
            sess.close()
        elif not self.headers_done:
            sess.server_failed(502, retry=not self.received)
        elif not self.done:
            # close-delimited body ends with the connection
            sess.keepalive = False
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
        "mode",
        "v10",
    )

    def __init__(self, fe: FrontendRT) -> None:
        self.fe = fe
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
        self.mode = KAL  # this request's connection mode (h1hdr.py)
        self.v10 = False  # an HTTP/1.0 request
        self.timeout_server = fe.backend.timeout_server if fe.backend else None
        self.error = 0

    # ---- protocol interface -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.runtime.sessions.add(self)
        self.wheel.arm(self, self.fe.timeout_http_request or self.timeout_client)

    def data_received(self, data: bytes) -> None:
        if self.tunnel:
            self.wheel.arm(self, self.timeout_client)
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
        if state == IDLE:
            self.state = state = HEAD
            self.head = []
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
            self._bad_request()
            return
        if self.pipelined:
            data = self._split(data)
        head = self.head
        if head is not None:
            head.append(data)
            if self.state == HEAD:
                if sum(map(len, head)) > self.runtime.http_limits[0]:
                    self._bad_request()
                return
            data = b"".join(head) if len(head) > 1 else head[0]
            self.head = None
            if fe.rules is not None:  # http-request rules, use_backend (routing.py)
                self.local = fe.rules(self, data)
                if self.local is None:
                    self._start()
            if self.local is None:
                data = self._request_head(data)
            if self.req_complete:
                self.sent_head = data
        if self.error or self.local is not None:
            if self.req_complete:
                if self.error:
                    self._send_error(self.error)
                else:
                    self._send_local()
            return
        server = self.server
        if server is not None:
            server.transport.write(data)
        else:
            if self.out is None:
                self.out = []
            self.out.append(data)
            if not self.req_complete:  # a complete request: read on, to see an abort
                self.transport.pause_reading()
        if self.req_complete and self.state == SEND:
            self.state = WAIT
            if server is not None:
                self.wheel.arm(self, self.timeout_server)

    def eof_received(self) -> bool:
        if self.tunnel and self.server is not None:
            self.eof = True
            return self.tunnel_eof(from_client=True)
        if self.state in (IDLE, HEAD) and self.stash is None:
            self.close()
            return False
        be = self.be
        if be is not None and be.abortonclose and self.server is None and self.out is not None:
            # option abortonclose: queued or connecting, the request is dropped
            self.close()
            return False
        self.eof = True  # answer what was received, then close
        return True

    def connection_lost(self, exc: Exception | None) -> None:
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
        left = check_head(self.head, self.chunk, self.runtime.http_limits, True)
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
            self._start()

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

    def _start(self) -> None:
        be = self.be
        if be is None:
            self.error = 503
            return
        self.timeout_server = be.timeout_server
        self.tries = 0
        got = be.acquire(self)
        if got is None:
            self.error = 503
        elif got is True:
            self.out = []
            self.wheel.arm(self, be.timeout_queue)
        else:
            self.dequeued(got)  # type: ignore[arg-type]

    def dequeued(self, srv: ServerRT) -> None:
        self.srv = srv
        mode = srv.backend.reuse
        never = mode == "never"
        conn = self._take_private(srv) if never else srv.pool.take(not self.served, mode)
        if conn is not None:
            self.reused = True
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
        self._attach(conn)

    def _connect_failed(self, timed_out: bool = False) -> None:
        """A connect attempt was refused or timed out: retry, maybe on
        another server (``BackendRT.retry``), or answer 503."""
        srv = self.srv
        assert srv is not None
        be = srv.backend
        self.tries += 1
        step = be.retry(srv, self.tries, timed_out)
        if step is not None:
            redispatch, delay = step
            if not redispatch:
                self._connect(srv, delay)
                return
            self._release()
            if be.assign(self, avoid=srv):
                return
        self.out = None
        self._release()
        self._send_error(503)

    def _attach(self, conn: HttpServerSide) -> None:
        self.server = conn
        conn.begin(self, self.head_req)
        out = self.out
        self.out = None
        if out:
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
            server.transport.write_eof()
            fin = server.srv.backend.timeout_server_fin
            if fin:
                self.timeout_server = fin
            self.wheel.arm(self, self.timeout_server)
        else:
            self.transport.write_eof()
            if self.fe.timeout_client_fin:
                self.timeout_client = self.fe.timeout_client_fin
            self.wheel.arm(self, self.timeout_client)
        return True

    def server_failed(self, status: int, retry: bool = False) -> None:
        """The server connection failed before a complete response head."""
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
        self._release()
        self._send_error(status)

    def _bad_request(self) -> None:
        self.transport.write(BAD_REQUEST)
        self.state = DONE
        self.close()

    def _send_error(self, status: int) -> None:
        self.error = 0
        close = not (self.keepalive and self.req_complete) or self.runtime.stopping
        be = self.be
        pages = ERROR_PAGES if be is None else be.pages
        page = pages[(status, close)]
        if pages is not ERROR_PAGES and not close:
            close = closes(page)  # an errorfile may end the connection
        if page:  # an empty errorfile (/dev/null): close without an answer
            self.transport.write(page)
        self._finish_local(close)

    def _send_local(self) -> None:
        close = not self.keepalive or self.runtime.stopping
        local = self.local
        assert local is not None
        self.transport.write(local[self.head_req][close])
        self._finish_local(close)

    def _finish_local(self, close: bool) -> None:
        if close:
            self.state = DONE
            self.close()
        else:
            self._next()

    def on_timeout(self) -> None:
        state = self.state
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
            self._release()
            self._send_error(503)
        elif state == WAIT and self.server is not None and not self.server.headers_done:
            conn = self.server
            self.server = None
            conn.sess = None
            conn.transport.close()
            self._release()
            self._send_error(504)
        elif state == HEAD or (state == IDLE and not self.served):
            # nothing or part of a request: HAProxy answers 408 (mux H1)
            self.transport.write(REQUEST_TIMEOUT)
            self.state = DONE
            self.close()
        else:
            self.close()

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
