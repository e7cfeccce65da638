"""The statistics page of an HTTP proxy (configuration.txt §4.2 "stats *").

A proxy with any ``stats`` keyword answers requests whose URI starts with
``stats uri`` (default ``/haproxy?stats``) itself: the HTML report, or with
``;csv`` the ``show stat`` CSV, with ``;json`` its JSON form; ``;norefresh``
drops the ``refresh`` header, ``;up`` / ``;no-maint`` filter servers.
``stats auth`` demands HTTP basic authentication (401 with ``stats realm``),
``stats scope`` limits the proxies shown, ``stats show-legends`` adds the
server addresses and algorithms (as the CLI's operator level),
``stats hide-version`` / ``show-node`` / ``show-desc`` change the header.

The page is hooked on the frontend's request rules (``FrontendRT.rules``), so
the data plane is unchanged: requests elsewhere take their usual path.
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
from pyhaproxy.runtime.commands import OPERATOR, USER

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
            local = self.answer(head)
            if local is not None:
                return local
            return rules(sess, head) if rules is not None else None

        fe.rules = run

    # -- answers -------------------------------------------------------------
    def answer(self, head: bytes) -> Any:
        """A ``routing.Local`` (GET/HEAD x keep-alive/close) or None."""
        line_end = head.find(b"\r\n")
        parts = head[:line_end].split(b" ")
        if len(parts) < 3 or not parts[1].startswith(self._uri):
            return None
        if self.auths and not self._authorized(head):
            return self._unauthorized()
        opts = parts[1][len(self._uri) :].decode("latin-1")
        if ";csv" in opts:
            body, ctype = self.csv(opts).encode(), "text/plain"
        elif ";json" in opts:
            body, ctype = self.json(opts).encode(), "application/json"
        else:
            body, ctype = self.html(opts).encode("latin-1", "replace"), "text/html"
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

    def html(self, opts: str) -> str:
        """A report in the layout of HAProxy's: one table per proxy."""
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
            f"<p><b>pid = </b> {os.getpid()} (process #1, nbproc = 1, nbthread = 1)<br>\n"
            f"<b>uptime = </b> {up // 86400}d {up // 3600 % 24}h{up // 60 % 60:02d}m"
            f"{up % 60:02d}s<br>\n"
            f"<b>maxconn = </b> {cli.maxconn()}<br>\n"
            f"current conns = {len(cli.rt.sessions)}</p>\n"
        )
        by_proxy: dict[str, list[dict]] = {}
        for row in self.rows(opts):
            by_proxy.setdefault(row["pxname"], []).append(row)
        for name, rows in by_proxy.items():
            out.append(_proxy_table(name, rows))
        out.append("</body></html>\n")
        return "".join(out)


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
.active_up		{background: #c0ffc0;}
.active_nolb		{background: #20a0ff;}
.active_draining		{background: #20a0FF;}
.maintain	{background: #c07820;}
.backup_up		{background: #b0d0ff;}
.backup_down		{background: #ff9090;}
table.tbl { border-collapse: collapse; border-style: none;}
table.tbl td { text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid\
 solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}
table.tbl th { border-width: 1px; border-style: solid solid solid solid; border-color: gray;}
table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold;\
 border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap;}
table.tbl th.empty { border-style: none; empty-cells: hide; background: white;}
-->
</style>
"""

_COLUMNS = (
    ("Queue", ("qcur", "qmax", "qlimit"), ("Cur", "Max", "Limit")),
    ("Session rate", ("rate", "rate_max", "rate_lim"), ("Cur", "Max", "Limit")),
    (
        "Sessions",
        ("scur", "smax", "slim", "stot", "lbtot", "lastsess"),
        ("Cur", "Max", "Limit", "Total", "LbTot", "Last"),
    ),
    ("Bytes", ("bin", "bout"), ("In", "Out")),
    ("Denied", ("dreq", "dresp"), ("Req", "Resp")),
    ("Errors", ("ereq", "econ", "eresp"), ("Req", "Conn", "Resp")),
    ("Warnings", ("wretr", "wredis"), ("Retr", "Redis")),
    (
        "Server",
        ("status", "lastchg", "weight", "act", "bck", "chkfail", "chkdown", "downtime"),
        ("Status", "LastChk", "Wght", "Act", "Bck", "Chk", "Dwn", "Dwntme"),
    ),
)


def _row_class(row: dict) -> str:
    if row["type"] == stats.FE:
        return "frontend"
    if row["type"] == stats.BE:
        return "backend"
    status = str(row.get("status", ""))
    prefix = "backup" if row.get("bck") == 1 else "active"
    if status.startswith("MAINT"):
        return "maintain"
    if status.startswith("DOWN"):
        return f"{prefix}_down"
    if status.startswith(("NOLB", "DRAIN")):
        return f"{prefix}_draining"
    return f"{prefix}_up"


def _proxy_table(name: str, rows: list[dict]) -> str:
    esc = html.escape(name)
    out = [
        f'<table class="tbl" width="100%">\n<tr class="titre"><th class="pxname" width="10%">'
        f'<a name="{esc}"></a><a class=px href="#{esc}">{esc}</a></th>'
        '<th class="empty" width="90%"></th></tr>\n</table>\n'
        '<table class="tbl" width="100%">\n<tr class="titre"><th rowspan=2></th>'
    ]
    out.extend(f"<th colspan={len(cols)}>{title}</th>" for title, cols, _ in _COLUMNS)
    out.append('</tr>\n<tr class="titre">')
    out.extend(f"<th>{label}</th>" for _, _, labels in _COLUMNS for label in labels)
    out.append("</tr>\n")
    for row in rows:
        label = {stats.FE: "Frontend", stats.BE: "Backend"}.get(row["type"], row["svname"])
        out.append(f'<tr class="{_row_class(row)}"><td class=ac>{html.escape(str(label))}</td>')
        for _, cols, _ in _COLUMNS:
            out.extend(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in cols)
        out.append("</tr>\n")
    out.append("</table><p>\n")
    return "".join(out)


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
