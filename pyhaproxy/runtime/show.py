"""Reporting commands (management.txt §9.3): ``show info``, ``show stat``,
``show servers state``, ``show backend``, ``clear counters``.

Answers keep HAProxy 2.6's layout: ``show info`` keys in HAProxy's order
(``Name: HAProxy`` first; ``Unstoppable Jobs`` with its space), ``show stat``
CSV with the 2.6 column order and a trailing comma, ``show servers state``
with its version line ``1`` and header.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from pyhaproxy.config.model import BACKEND
from pyhaproxy.messages import version_string
from pyhaproxy.runtime import stats
from pyhaproxy.runtime.commands import ADMIN, OPERATOR, command
from pyhaproxy.runtime.servers import find_backend
from pyhaproxy.runtime.stat_tags import INFO as INFO_TAGS
from pyhaproxy.runtime.stat_tags import INFO_POS
from pyhaproxy.runtime.stat_tags import STAT as STAT_TAGS

if TYPE_CHECKING:
    from pyhaproxy.runtime.cli import CliSession

RELEASE_DATE = "2026/11/25"  # as `pyhaproxy -v` (cli.py)


def info_fields(sess: CliSession) -> list[tuple[str, Any]]:
    """``show info`` (HAProxy 2.6 stats.c stats_fill_info order)."""
    cli = sess.server
    rt = cli.rt
    now = time.time()
    up = int(now - cli.started)
    fes = [stats.read(fe) for fe in rt.frontends]
    maxconn = cli.maxconn()
    try:
        import resource

        ulimit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError):
        ulimit = 0
    # master-worker: the other workers of the generation count too (as
    # HAProxy's threads share one process); listeners are the same ones
    sessions = len(rt.sessions) + stats.others(None, "sessions")
    accepted = cli.accepted + stats.others(None, "accepted")
    jobs = sessions + len(rt.listeners) + len(cli.listeners) + len(cli.sessions)
    return [
        ("Name", "HAProxy"),
        ("Version", version_string()),
        ("Release_date", RELEASE_DATE),
        ("Nbthread", nbthread(cli)),
        ("Nbproc", 1),
        ("Process_num", process_num(sess)),
        ("Pid", os.getpid()),
        ("Uptime", f"{up // 86400}d {up // 3600 % 24}h{up // 60 % 60:02d}m{up % 60:02d}s"),
        ("Uptime_sec", up),
        ("Memmax_MB", 0),
        ("PoolAlloc_MB", 0),
        ("PoolUsed_MB", 0),
        ("PoolFailed", 0),
        ("Ulimit-n", ulimit),
        ("Maxsock", ulimit),
        ("Maxconn", maxconn),
        ("Hard_maxconn", cli.hard_maxconn()),
        ("CurrConns", sessions),
        ("CumConns", sum(c.stot for c in fes) + accepted),
        ("CumReq", sum(c.req_tot for c in fes) + accepted),
        ("MaxSslConns", 0),
        ("CurrSslConns", 0),
        ("CumSslConns", 0),
        ("Maxpipes", 0),
        ("PipesUsed", 0),
        ("PipesFree", 0),
        ("ConnRate", 0),
        ("ConnRateLimit", 0),
        ("MaxConnRate", 0),
        ("SessRate", 0),
        ("SessRateLimit", 0),
        ("MaxSessRate", 0),
        ("SslRate", 0),
        ("SslRateLimit", 0),
        ("MaxSslRate", 0),
        ("SslFrontendKeyRate", 0),
        ("SslFrontendMaxKeyRate", 0),
        ("SslFrontendSessionReuse_pct", 0),
        ("SslBackendKeyRate", 0),
        ("SslBackendMaxKeyRate", 0),
        ("SslCacheLookups", 0),
        ("SslCacheMisses", 0),
        ("CompressBpsIn", 0),
        ("CompressBpsOut", 0),
        ("CompressBpsRateLim", 0),
        ("Tasks", jobs),
        ("Run_queue", 0),
        ("Idle_pct", 100),
        ("node", cli.config.global_.extra.get("node") or socket.gethostname()),
        ("Stopping", int(rt.stopping)),
        ("Jobs", jobs),
        ("Unstoppable Jobs", 0),
        ("Listeners", len(rt.listeners) + len(cli.listeners)),
        ("ActivePeers", 0),
        ("ConnectedPeers", 0),
        ("DroppedLogs", 0),
        ("BusyPolling", 0),
        ("FailedResolutions", 0),
        ("TotalBytesOut", sum(c.bout for c in fes)),
        ("TotalSplicdedBytesOut", 0),
        ("BytesOutRate", 0),
        ("DebugCommandsIssued", 0),
        ("CumRecvLogs", 0),
        ("Build info", version_string()),
        ("Memmax_bytes", 0),
        ("PoolAlloc_bytes", 0),
        ("PoolUsed_bytes", 0),
        ("Start_time_sec", int(cli.started)),
        ("Tainted", 0),
    ]


def nbthread(cli: Any) -> int:
    """HAProxy's threads are pyhaproxy's workers of a generation (``-W``);
    a single process is one."""
    share = cli.rt.share
    return share.nbthread if share is not None else 1


def process_num(sess: CliSession) -> int:
    """The worker's relative number (master-worker), else 1."""
    share = sess.rt.share
    return share.relative if share is not None else 1


@command(
    "show info",
    "show info [desc|json|typed|float]*",
    "report information about the running process",
)
def _show_info(sess: CliSession, args: list[str], payload: str | None) -> str:
    fields = info_fields(sess)
    num = process_num(sess)
    words = args[2:]
    if "json" in words:
        out = []
        for name, v in fields:
            letters, kind = INFO_TAGS.get(name, ("POS", "str"))
            out.append(
                {
                    "field": {"pos": INFO_POS[name], "name": name},
                    "processNum": num,
                    "tags": _tags(letters),
                    "value": {"type": kind, "value": v},
                }
            )
        return json.dumps(out, separators=(",", ":")) + "\n"
    if "typed" in words:
        return "".join(
            f"{INFO_POS[name]}.{name}.{num}:{':'.join(INFO_TAGS.get(name, ('POS', 'str')))}:{v}\n"
            for name, v in fields
        )
    return "".join(f"{name}: {v}\n" for name, v in fields)


@command(
    "show stat",
    "show stat [desc|json|no-maint|typed|up]*",
    "report counters for each proxy and server",
)
def _show_stat(sess: CliSession, args: list[str], payload: str | None) -> str:
    cli = sess.server
    iid, types, sid = -1, 7, -1
    words = args[2:]
    if len(words) >= 3 and words[0] and words[1] and words[2]:
        name = words[0]
        if name.lstrip("-").isdigit():
            iid = int(name)
        elif name.startswith("#") and name[1:].isdigit():
            iid = int(name[1:])
            if iid not in cli.proxy_ids.values():
                return "No such proxy.\n"
        else:
            if name not in cli.proxy_ids:
                return "No such proxy.\n"
            iid = cli.proxy_id(name)
        types = _atoi(words[1])
        sid = _atoi(words[2])
        words = words[3:]
    if types == -1:
        types = 7
    rows = stats.rows(cli, sess.level, iid, types, sid)
    if "up" in words:
        rows = [
            r
            for r in rows
            if r["type"] != stats.SV or not str(r["status"]).startswith(("DOWN", "MAINT"))
        ]
    elif "no-maint" in words:
        rows = [r for r in rows if r["type"] != stats.SV or r["status"] != "MAINT"]
    if "json" in words:
        return _stat_json(rows) + "\n"
    if "typed" in words:
        return "".join(_typed(r) for r in rows)
    return stats.csv_header() + "".join(stats.csv_line(r) for r in rows)


def _atoi(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    n = ""
    for ch in digits:
        if not ch.isdigit():
            break
        n += ch
    return sign * int(n) if n else 0


_KIND = {0: "F", 1: "B", 2: "S"}
_OBJ = {0: "Frontend", 1: "Backend", 2: "Server"}
# typed/JSON positions: the CSV columns without the "-" separator
_POSITIONS = [(pos, name) for pos, name in enumerate(f for f in stats.ALL_FIELDS if f != "-")]
_ORIGIN = {"M": "Metric", "S": "Status", "K": "Key", "C": "Config", "P": "Product"}
_NATURE = {"G": "Gauge", "L": "Limit", "m": "Min", "M": "Max", "R": "Rate", "C": "Counter"}
_NATURE |= {"D": "Duration", "A": "Age", "T": "Time", "N": "Name", "O": "Output", "a": "Avg"}
_SCOPE = {"C": "Cluster", "P": "Process", "S": "Service", "s": "System"}


def _tags(letters: str) -> dict[str, str]:
    return {
        "origin": _ORIGIN.get(letters[0:1], ""),
        "nature": _NATURE.get(letters[1:2], ""),
        "scope": _SCOPE.get(letters[2:3], ""),
    }


def _fields(row: dict[str, Any]) -> list[tuple[int, str, str, str, Any]]:
    """(position, name, tag letters, type, value) of a row's non-empty fields."""
    kind = _KIND[row["type"]]
    out = []
    for pos, name in _POSITIONS:
        if name not in row:
            continue
        letters, typ = STAT_TAGS.get(f"{kind}.{name}", ("MCP", "u64"))
        out.append((pos, name, letters, typ, row[name]))
    return out


def _typed(row: dict[str, Any]) -> str:
    prefix = f"{_KIND[row['type']]}.{row['iid']}.{row['sid']}"
    return "".join(
        f"{prefix}.{pos}.{name}.1:{letters}:{typ}:{value}\n"
        for pos, name, letters, typ, value in _fields(row)
    )


def _stat_json(rows: list[dict[str, Any]]) -> str:
    out = [
        [
            {
                "objType": _OBJ[row["type"]],
                "proxyId": row["iid"],
                "id": row["sid"],
                "field": {"pos": pos, "name": name},
                "processNum": 1,
                "tags": _tags(letters),
                "value": {"type": typ, "value": value},
            }
            for pos, name, letters, typ, value in _fields(row)
        ]
        for row in rows
    ]
    return json.dumps(out, separators=(",", ":"))


SERVERS_STATE_HEADER = (
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
    "srv_uweight srv_iweight srv_time_since_last_change srv_check_status "
    "srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id "
    "srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
    "srv_check_addr srv_agent_addr srv_agent_port\n"
)


def _server_state_line(sess: CliSession, px: Any, be: Any, srv: Any, now: float) -> str:
    cli = sess.server
    model = next((s for s in px.servers if s.name == srv.name), None)
    opts = model.options if model is not None else {}
    cfg_disabled = bool(opts.get("disabled")) and not opts.get("enabled")
    admin = srv.admin | (4 if cfg_disabled else 0)
    op = 0 if srv.maint else {"UP": 2, "NOLB": 3, "DOWN": 0}.get(srv.state, 2)
    book = cli.book
    since = int(now) - book.rec(srv).last_change
    addr = srv.host if srv.family != "unix" else srv.host
    port = srv.port if srv.family != "unix" else 0
    return (
        f"{cli.proxy_id(px.name)} {px.name} {cli.server_id(srv)} {srv.name} {addr} "
        f"{op} {admin} {srv.uweight} {srv.iweight} {since} {book.state_numbers(srv)} "
        f"{int(px.name in cli.forced_ids)} "
        f"{int(bool(opts.get('id')))} - {port} - 0 {book.addresses(srv)}\n"
    )


@command(
    "show servers state",
    "show servers state [<backend>]",
    "dump volatile server information (all or for a single backend)",
)
def _show_servers_state(sess: CliSession, args: list[str], payload: str | None) -> str:
    cli = sess.server
    only = None
    if len(args) > 3 and args[3]:
        only = find_backend(sess, args[3])
        if only is None:
            return "Can't find backend.\n"
    now = time.time()
    out = [SERVERS_STATE_HEADER]
    for px in cli.config.proxies:
        be = cli.rt.backends.get(px.name)
        if be is None or (only is not None and be is not only) or not px.cap & BACKEND:
            continue
        for srv in be.servers:
            out.append(_server_state_line(sess, px, be, srv, now))
    return "".join(out)


@command(
    "show errors",
    "show errors [<px>] [request|response]",
    "report last request and/or response errors for each proxy",
    level=OPERATOR,
)
def _show_errors(sess: CliSession, args: list[str], payload: str | None) -> str:
    """pyhaproxy does not capture invalid messages: the count is always 0."""
    name = args[2] if len(args) > 2 else ""
    if name and name not in ("request", "response"):
        ids = sess.server.proxy_ids
        if name not in ids and not (name[:1] == "#" and name[1:] in map(str, ids.values())):
            return "No such proxy.\n"
    now = time.time()
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S", time.localtime(now))
    return f"Total events captured on [{stamp}.{int(now * 1000) % 1000:03d}] : 0\n"


@command("show backend", "show backend", "list backends in the current running config")
def _show_backend(sess: CliSession, args: list[str], payload: str | None) -> str:
    cli = sess.server
    names = [px.name for px in cli.config.proxies if px.cap & BACKEND and not px.disabled]
    return "# name\n" + "".join(f"{n}\n" for n in names)


@command(
    "clear counters",
    "clear counters [all]",
    "clear max statistics counters (or all counters)",
    level=OPERATOR,
)
def _clear_counters(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    everything = len(args) > 2 and args[2] == "all"
    if everything and sess.level < ADMIN:
        return "Permission denied\n"
    rt = sess.rt
    for fe in rt.frontends:
        fe.c.clear(everything)
    for be in rt.backends.values():
        be.c.clear(everything)
        for srv in be.servers:
            srv.c.clear(everything)
            if everything:  # srv.total is the balancer's: keep it, offset it
                sess.server.lbtot_base[srv] = srv.total
                sess.server.book.clear_counters(srv)
    return None
