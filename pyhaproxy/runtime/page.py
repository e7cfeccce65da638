"""The statistics page of an HTTP proxy (configuration.txt §4.2 "stats *").

A proxy with any ``stats`` keyword answers requests whose URI starts with
``stats uri`` (default ``/haproxy?stats``) itself: the HTML report, or with
``;csv`` the ``show stat`` CSV, with ``;json`` its JSON form; ``;norefresh``
drops the ``refresh`` header, ``;up`` / ``;no-maint`` filter servers.
``stats auth`` demands HTTP basic authentication (401 with ``stats realm``),
``stats scope`` limits the proxies shown, ``stats show-legends`` adds the
server addresses and algorithms (as the CLI's operator level),
``stats hide-version`` / ``show-node`` / ``show-desc`` change the header.
``stats admin if|unless <cond>``: a request it matches gets the admin form
(htmltable.py), and a POST to the page is the form's action (admin.py),
answered ``303 See Other`` to ``<uri>;st=<code>``, whose page then shows
the outcome; a POST without the right is ``st=DENY``.

The page is hooked on the frontend's request rules (``FrontendRT.rules``), so
the data plane is unchanged: requests elsewhere take their usual path (a
POST's answer is decided once its body is in: ``_PendingPost.feed``).
"""

from __future__ import annotations

import base64
import html
import json
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from pyhaproxy.config.units import parse_time
from pyhaproxy.messages import version_string
from pyhaproxy.runtime import stats
from pyhaproxy.runtime.admin import MESSAGES, UNKNOWN
from pyhaproxy.runtime.admin import apply as admin_apply
from pyhaproxy.runtime.commands import OPERATOR, USER
from pyhaproxy.runtime.htmltable import proxy_table
from pyhaproxy.sample.fetch import RequestView

if TYPE_CHECKING:
    from pyhaproxy.runtime.server import CliServer

DEFAULT_URI = "/haproxy?stats"
DEFAULT_REALM = "HAProxy Statistics"
_401_BODY = (
    b"<html><body><h1>401 Unauthorized</h1>\n"
    b"You need a valid user and password to access this content.\n"
    b"</body></html>\n"
)


class StatsPage:
    """The ``stats`` settings of one proxy and the answers they give."""

    def __init__(self, cli: CliServer, px: Any) -> None:
        self.cli = cli
        self.px = px
        self.uri = DEFAULT_URI
        self.realm = DEFAULT_REALM
        self.auths: set[bytes] = set()  # base64 of "user:password"
        self.refresh = 0
        self.hide_version = self.legends = False
        self.node: str | None = None
        self.desc: str | None = None
        self.scope: set[str] = set()
        # "stats admin if|unless <cond>": the conditions giving the admin form
        self.admin: list[Any] = list(px.settings.extra.get("stats-admin", []))
        for _where, words in px.settings.extra.get("stats", []):
            sub, args = words[0], words[1:]
            if sub == "uri":
                self.uri = args[0]
            elif sub == "realm":
                self.realm = " ".join(args)
            elif sub == "auth":
                self.auths.add(base64.b64encode(args[0].encode("latin-1")))
            elif sub == "refresh":
                self.refresh = parse_time(args[0], "stats refresh interval") // 1000
            elif sub == "hide-version":
                self.hide_version = True
            elif sub == "show-legends":
                self.legends = True
            elif sub == "show-node":
                self.node = args[0] if args else socket.gethostname()
            elif sub == "show-desc":
                self.desc = " ".join(args)
            elif sub == "scope":
                self.scope.add(args[0])
        self._uri = self.uri.encode("latin-1")

    def hook(self, fe: Any) -> None:
        """Answer this page before the frontend's own request rules."""
        rules = fe.rules

        def run(sess: Any, head: bytes) -> Any:
            local = self.answer(head, sess)
            if local is not None:
                return local
            return rules(sess, head) if rules is not None else None

        fe.rules = run

    # -- answers -------------------------------------------------------------
    def answer(self, head: bytes, sess: Any = None) -> Any:
        """A ``routing.Local`` (GET/HEAD x keep-alive/close) or None;
        ``head``: the request as received so far (a POST's body may follow
        its head in it), ``sess``: the client's stream (admin conditions)."""
        line_end = head.find(b"\r\n")
        parts = head[:line_end].split(b" ")
        if len(parts) < 3 or not parts[1].startswith(self._uri):
            return None
        if self.auths and not self._authorized(head):
            return self._unauthorized()
        opts = parts[1][len(self._uri) :].decode("latin-1")
        admin = self._admin(head, sess)
        if parts[0] == b"POST":
            return self._post(head, opts, admin)
        if ";csv" in opts:
            body, ctype = self.csv(opts).encode(), "text/plain"
        elif ";json" in opts:
            body, ctype = self.json(opts).encode(), "application/json"
        else:
            body, ctype = self.html(opts, admin).encode("latin-1", "replace"), "text/html"
        refresh = self.refresh and ";norefresh" not in opts and ";json" not in opts
        lines = ["HTTP/1.1 200 OK", "cache-control: no-cache", f"content-type: {ctype}"]
        if refresh:
            lines.append(f"refresh: {self.refresh}")
        lines.append("transfer-encoding: chunked")
        hd = "\r\n".join(lines) + "\r\n"
        chunked = (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
        keep = (hd + "\r\n").encode()
        close = (hd + "connection: close\r\n\r\n").encode()
        return ((keep + chunked, close + chunked), (keep, close))

    def _admin(self, head: bytes, sess: Any) -> bool:
        """Does a ``stats admin`` condition match this request?"""
        if not self.admin:
            return False
        transport = getattr(sess, "transport", None)
        peer = (lambda: transport.get_extra_info("peername")) if transport is not None else None
        view = RequestView(head, peer, transport)
        return any(cond.test(view) for cond in self.admin)

    def _post(self, head: bytes, opts: str, admin: bool) -> Any:
        """The admin form's POST: act (admin.py), then redirect to the page
        with the outcome (``303``, ``Location: <uri>;st=<code>``) as HAProxy
        does, so that a refresh does not post again."""
        end = head.find(b"\r\n\r\n")
        body = head[end + 4 :] if end >= 0 else b""
        length = _content_length(head[:end])
        pending = _PendingPost(self, opts, admin, length, end + 4)
        pending.feed(body)
        return pending

    def redirect(self, code: str, opts: str) -> Any:
        """The ``303 See Other`` answer of a POST (HAProxy's
        stats_send_http_redirect)."""
        where = f"{self.uri};st={code}"
        if ";up" in opts:
            where += ";up"
        if self.refresh and ";norefresh" in opts:
            where += ";norefresh"
        hd = (
            "HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\n"
            f"content-length: 0\r\nlocation: {where}\r\n"
        )
        keep = (hd + "\r\n").encode("latin-1")
        close = (hd + "connection: close\r\n\r\n").encode("latin-1")
        return ((keep, close), (keep, close))

    def _authorized(self, head: bytes) -> bool:
        low = head.lower()
        pos = low.find(b"\r\nauthorization:")
        if pos < 0:
            return False
        end = head.find(b"\r\n", pos + 2)
        value = head[pos + 16 : end].strip()
        scheme, _, cred = value.partition(b" ")
        return scheme.lower() == b"basic" and cred.strip() in self.auths

    def _unauthorized(self) -> Any:
        hd = (
            "HTTP/1.1 401 Unauthorized\r\n"
            f"content-length: {len(_401_BODY)}\r\n"
            "cache-control: no-cache\r\ncontent-type: text/html\r\n"
            f'www-authenticate: Basic realm="{self.realm}"\r\n'
        )
        keep = (hd + "\r\n").encode("latin-1")
        close = (hd + "connection: close\r\n\r\n").encode("latin-1")
        return ((keep + _401_BODY, close + _401_BODY), (keep, close))

    def rows(self, opts: str) -> list[dict]:
        level = OPERATOR if self.legends else USER
        rows = stats.rows(self.cli, level)
        if self.scope:
            rows = [r for r in rows if r["pxname"] in self.scope]
        if ";up" in opts:
            rows = [
                r
                for r in rows
                if r["type"] != stats.SV or not str(r["status"]).startswith(("DOWN", "MAINT"))
            ]
        elif ";no-maint" in opts:
            rows = [r for r in rows if r["type"] != stats.SV or r["status"] != "MAINT"]
        return rows

    def csv(self, opts: str) -> str:
        return stats.csv_header() + "".join(stats.csv_line(r) for r in self.rows(opts))

    def json(self, opts: str) -> str:
        out = []
        for row in self.rows(opts):
            out.append(
                [
                    {
                        "objType": ("Frontend", "Backend", "Server")[row["type"]],
                        "proxyId": row["iid"],
                        "id": row["sid"],
                        "field": {"pos": pos, "name": name},
                        "processNum": 1,
                        "value": {
                            "type": "u64" if isinstance(row[name], int) else "str",
                            "value": row[name],
                        },
                    }
                    for pos, name in enumerate(stats.ALL_FIELDS)
                    if name in row and name != "-"
                ]
            )
        return json.dumps(out)

    def html(self, opts: str, admin: bool = False) -> str:
        """A report in the layout of HAProxy's: one table per proxy, with
        the admin form around each backend's table when ``admin``."""
        cli = self.cli
        up = int(time.time() - cli.started)
        title = "Statistics Report for HAProxy"
        if self.node:
            title += f" on {html.escape(self.node)}"
        version = "" if self.hide_version else f" version {version_string()}"
        out = [
            '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"\n'
            '"http://www.w3.org/TR/html4/loose.dtd">\n',
            f"<html><head><title>{title}</title>\n",
            '<link rel="icon" href="data:,">\n'
            '<meta http-equiv="content-type" content="text/html; charset=iso-8859-1">\n',
            _STYLE,
            "</head>\n<body>",
            f'<h1><a href="http://www.haproxy.org/" style="text-decoration: none;">'
            f"HAProxy{version}</a></h1>\n",
            f"<h2>Statistics Report for pid {os.getpid()}"
            + (f" on {html.escape(self.node)}" if self.node else "")
            + "</h2>\n",
        ]
        if self.desc:
            out.append(f"<h3>&gt; {html.escape(self.desc)}</h3>\n")
        out.append(
            f'<hr width="100%" class="hr">\n<h3>&gt; General process information</h3>\n'
            f"<p><b>pid = </b> {os.getpid()} (process #1, nbproc = 1, "
            f"nbthread = {cli.rt.share.nbthread if cli.rt.share is not None else 1})<br>\n"
            f"<b>uptime = </b> {up // 86400}d {up // 3600 % 24}h{up // 60 % 60:02d}m"
            f"{up % 60:02d}s<br>\n"
            f"<b>maxconn = </b> {cli.maxconn()}<br>\n"
            f"current conns = {len(cli.rt.sessions)}</p>\n"
        )
        out.append(self._message(opts))
        by_proxy: dict[str, list[dict]] = {}
        for row in self.rows(opts):
            by_proxy.setdefault(row["pxname"], []).append(row)
        for name, rows in by_proxy.items():
            out.append(proxy_table(name, rows, admin, self.cli.proxy_id(name)))
        out.append("</body></html>\n")
        return "".join(out)

    def _message(self, opts: str) -> str:
        """The box telling the outcome of the last POST (``;st=<code>``)."""
        pos = opts.find(";st=")
        if pos < 0:
            return ""
        code = opts[pos + 4 :].split(";", 1)[0]
        if code == "UNKN":
            style, text = UNKNOWN
        elif code in MESSAGES:
            style, text = MESSAGES[code]
        else:  # not a code HAProxy knows: no message
            return ""
        back = self.uri + (";up" if ";up" in opts else "")
        if self.refresh and ";norefresh" in opts:
            back += ";norefresh"
        return (
            f'<p><div class={style}><a class=lfsb href="{html.escape(back)}" '
            f'title="Remove this message">[X]</a> {text}</div>\n'
        )


class _PendingPost:
    """The answer of a POST, decided once its body is in: a ``Local``
    whose ``feed(data)`` the HTTP stream calls with the body's bytes."""

    def __init__(self, page: StatsPage, opts: str, admin: bool, length: int, head: int) -> None:
        self.page, self.opts, self.admin, self.length = page, opts, admin, length
        self.head = head  # the size of the request's head
        self.body: list[bytes] = []
        self.size = 0
        self.answer: Any = None

    def feed(self, data: bytes) -> None:
        if self.answer is not None:
            return
        if self.size < self.length:
            self.body.append(data[: self.length - self.size])
            self.size += len(self.body[-1])
        if self.size >= self.length:
            self.answer = self.page.redirect(self._code(), self.opts)

    def _code(self) -> str:
        if not self.admin:
            return "DENY"
        if self.head + self.length > self.page.cli.rt.http_limits[0]:
            # the request buffer (tune.bufsize - tune.maxrewrite) cannot hold
            # it; HAProxy's HTX blocks cost it about 100 bytes more
            return "EXCD"
        body = b"".join(self.body)
        code = admin_apply(self.page.cli, body)
        share = self.page.cli.rt.share  # master-worker: every worker changes
        return code if share is None else share.posted(body, code)

    def __getitem__(self, head_req: int) -> Any:
        if self.answer is None:  # the stream ended first: what came is all
            self.answer = self.page.redirect(self._code(), self.opts)
        return self.answer[head_req]


def _content_length(head: bytes) -> int:
    low = head.lower()
    pos = low.find(b"\r\ncontent-length:")
    if pos < 0:
        return 0
    end = low.find(b"\r\n", pos + 2)
    value = head[pos + 17 : end if end >= 0 else len(head)].strip()
    return int(value) if value.isdigit() else 0


_STYLE = """<style type="text/css"><!--
body { font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal;\
 color: black; background: white;}
th,td { font-size: 10px;}
h1 { font-size: x-large; margin-bottom: 0.5em;}
h2 { font-family: helvetica, arial; font-size: x-large; font-weight: bold; font-style: italic;\
 color: #6020a0; margin-top: 0em; margin-bottom: 0em;}
h3 { font-family: helvetica, arial; font-size: 16px; font-weight: bold; color: #b00040;\
 background: #e8e8d0; margin-top: 0em; margin-bottom: 0em;}
.hr {margin-top: 0.25em; border-color: black; border-bottom-style: solid;}
.titre	{background: #20D0D0;color: #000000; font-weight: bold; text-align: center;}
.total	{background: #20D0D0;color: #ffff80;}
.frontend	{background: #e8e8d0;}
.backend	{background: #e8e8d0;}
.active_down		{background: #ff9090;}
.active_going_up		{background: #ffd020;}
.active_going_down	{background: #ffffa0;}
.active_up		{background: #c0ffc0;}
.active_nolb		{background: #20a0ff;}
.active_draining		{background: #20a0FF;}
.active_no_check		{background: #e0e0e0;}
.backup_down		{background: #ff9090;}
.backup_going_up		{background: #ff80ff;}
.backup_going_down	{background: #c060ff;}
.backup_up		{background: #b0d0ff;}
.backup_nolb		{background: #90b0e0;}
.backup_draining		{background: #cc9900;}
.backup_no_check		{background: #e0e0e0;}
.maintain	{background: #c07820;}
a.px:link {color: #ffff40; text-decoration: none;}\
a.px:visited {color: #ffff40; text-decoration: none;}\
a.px:hover {color: #ffffff; text-decoration: none;}\
a.lfsb:link {color: #000000; text-decoration: none;}\
a.lfsb:visited {color: #000000; text-decoration: none;}\
a.lfsb:hover {color: #505050; text-decoration: none;}
table.tbl { border-collapse: collapse; border-style: none;}
table.tbl td { text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid\
 solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}
table.tbl td.ac { text-align: center;}
table.tbl th { border-width: 1px; border-style: solid solid solid solid; border-color: gray;}
table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold;\
 border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap;}
table.tbl th.empty { border-style: none; empty-cells: hide; background: white;}
u {text-decoration:none; border-bottom: 1px dotted black;}
div.tips { display:block; visibility:hidden; z-index:2147483647; position:absolute;\
 padding:2px 4px 3px; background:#f0f060; color:#000000; border:1px solid #7040c0;\
 white-space:nowrap; font-style:normal;font-size:11px;font-weight:normal;}
u:hover div.tips {visibility:visible;}
-->
</style>
"""


def attach_pages(cli: CliServer) -> list[StatsPage]:
    """Hook a StatsPage on every HTTP frontend with ``stats`` lines."""
    pages = []
    fes = {fe.name: fe for fe in cli.rt.frontends}
    for px in cli.config.proxies:
        fe = fes.get(px.name)
        if fe is None or px.mode != "http" or not px.settings.extra.get("stats"):
            continue
        page = StatsPage(cli, px)
        page.hook(fe)
        pages.append(page)
    return pages
