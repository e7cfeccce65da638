"""Statistics rows as HAProxy 2.6 reports them (management.txt §9.1 "CSV format").

``rows(cli, level)`` gives one ``dict`` per line of ``show stat`` (frontend,
servers, backend, proxy by proxy in declaration order), keyed by the CSV
column names of ``FIELDS``; a column absent from a row's dict is empty, as
HAProxy leaves columns that do not apply to a row type (``hrsp_*`` of a TCP
proxy, ``slim`` of a server without ``maxconn``...).

Counters are read through ``read(obj)`` only: with several worker processes
it is where the per-worker counters get summed.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from pyhaproxy.config.model import BACKEND, FRONTEND
from pyhaproxy.runtime.commands import OPERATOR

if TYPE_CHECKING:
    from pyhaproxy.dataplane.counters import Counters
    from pyhaproxy.runtime.server import CliServer

# the columns of "show stat" in HAProxy 2.6 (stats.h ST_F_*), then the
# columns of the stats modules (ssl, h2, h1) after the "-" separator
FIELDS = [
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "comp_in",
    "comp_out",
    "comp_byp",
    "comp_rsp",
    "lastsess",
    "last_chk",
    "last_agt",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "agent_status",
    "agent_code",
    "agent_duration",
    "check_desc",
    "agent_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_rise",
    "agent_fall",
    "agent_health",
    "addr",
    "cookie",
    "mode",
    "algo",
    "conn_rate",
    "conn_rate_max",
    "conn_tot",
    "intercepted",
    "dcon",
    "dses",
    "wrew",
    "connect",
    "reuse",
    "cache_lookups",
    "cache_hits",
    "srv_icur",
    "src_ilim",
    "qtime_max",
    "ctime_max",
    "rtime_max",
    "ttime_max",
    "eint",
    "idle_conn_cur",
    "safe_conn_cur",
    "used_conn_cur",
    "need_conn_est",
    "uweight",
    "agg_server_status",
    "agg_server_check_status",
    "agg_check_status",
]
SSL_FIELDS = ["ssl_sess", "ssl_reused_sess", "ssl_failed_handshake"]
H2_FIELDS = [
    "h2_headers_rcvd",
    "h2_data_rcvd",
    "h2_settings_rcvd",
    "h2_rst_stream_rcvd",
    "h2_goaway_rcvd",
    "h2_detected_conn_protocol_errors",
    "h2_detected_strm_protocol_errors",
    "h2_rst_stream_resp",
    "h2_goaway_resp",
    "h2_open_connections",
    "h2_backend_open_streams",
    "h2_total_connections",
    "h2_backend_total_streams",
]
H1_FIELDS = [
    "h1_open_connections",
    "h1_open_streams",
    "h1_total_connections",
    "h1_total_streams",
    "h1_bytes_in",
    "h1_bytes_out",
    "h1_spliced_bytes_in",
    "h1_spliced_bytes_out",
]
ALL_FIELDS = [*FIELDS, "-", *SSL_FIELDS, *H2_FIELDS, *H1_FIELDS]

FE, BE, SV = 0, 1, 2  # "type" column


# a worker of several (master-worker, nbthread > 1): adds the other
# workers' counters (master/share.py ``Share``, set when the worker starts)
SUMS: Any = None


def read(obj: Any) -> Counters:
    """The counters of a frontend, backend or server, as they are to be
    reported: summed over the workers of the generation (``SUMS``)."""
    return obj.c if SUMS is None else SUMS.counters(obj)


def others(obj: Any, name: str) -> int:
    """The other workers' sum of a gauge this worker also reports: a
    server's ``cur``, ``lbtot`` and ``idle``, a backend's ``queue``, the
    process's ``sessions`` and ``accepted`` (``obj`` None); 0 when alone."""
    return 0 if SUMS is None else SUMS.others(obj, name)


def _hrsp(row: dict[str, Any], c: Counters) -> None:
    h = c.hrsp
    row.update(
        hrsp_1xx=h[1], hrsp_2xx=h[2], hrsp_3xx=h[3], hrsp_4xx=h[4], hrsp_5xx=h[5], hrsp_other=h[0]
    )


def _modules(row: dict[str, Any], proxy_row: bool) -> None:
    row["-"] = "-"
    for f in SSL_FIELDS:
        row[f] = 0
    if proxy_row:
        for f in (*H2_FIELDS, *H1_FIELDS):
            row[f] = 0


def _since(t: float, now: float) -> int:
    return int(now - t) if t else -1


def server_status(cli: CliServer, srv: Any) -> str:
    """HAProxy's status column of a server ("UP 1/3", "no check", "DOWN
    (agent)"...: health.Book.status_text)."""
    return cli.book.status_text(srv)


def _fe_status(cli: CliServer, name: str) -> str:
    """STOP (stopping, ``shutdown frontend``), PAUSED (``disable frontend``)
    or OPEN (runtime/frontends.py)."""
    if cli.rt.stopping or name in cli.stopped:
        return "STOP"
    return "PAUSED" if name in cli.paused else "OPEN"


def _fe_row(cli: CliServer, px: Any, fe: Any, now: float) -> dict[str, Any]:
    c = read(fe)
    http = px.mode == "http"
    row: dict[str, Any] = {
        "pxname": px.name,
        "svname": "FRONTEND",
        "scur": c.scur,
        "smax": c.smax,
        "slim": cli.fe_maxconn(px),
        "stot": c.stot,
        "bin": c.bin,
        "bout": c.bout,
        "dreq": c.dreq,
        "dresp": c.dresp,
        "ereq": c.ereq,
        "status": _fe_status(cli, px.name),
        "pid": 1,
        "iid": cli.proxy_id(px.name),
        "sid": 0,
        "type": FE,
        "rate": c.rate(),
        "rate_lim": 0,
        "rate_max": c.rate_max,
        "req_rate": 0,
        "req_rate_max": 0,
        "req_tot": c.req_tot,
        "comp_in": 0,
        "comp_out": 0,
        "comp_byp": 0,
        "comp_rsp": 0,
        "mode": px.mode,
        "conn_rate": c.rate(),
        "conn_rate_max": c.rate_max,
        "conn_tot": c.stot,
        "dcon": 0,
        "dses": 0,
        "wrew": 0,
        "eint": 0,
    }
    if http:
        _hrsp(row, c)
        row.update(intercepted=c.intercepted, cache_lookups=0, cache_hits=0)
    _modules(row, True)
    if http:  # the H1 multiplexer's view of the client side
        row.update(
            h1_total_connections=c.stot,
            h1_total_streams=c.req_tot - c.ereq,
            h1_bytes_in=c.bin,
            h1_bytes_out=c.bout,
        )
    return row


def _sv_row(cli: CliServer, px: Any, be: Any, srv: Any, level: int, now: float) -> dict[str, Any]:
    c = read(srv)
    http = px.mode == "http"
    row: dict[str, Any] = {
        "pxname": px.name,
        "svname": srv.name,
        "qcur": 0,
        "qmax": 0,
        "scur": srv.cur + others(srv, "cur"),
        "smax": c.smax,
        "stot": c.stot,
        "bin": c.bin,
        "bout": c.bout,
        "dresp": c.dresp,
        "econ": c.econ,
        "eresp": c.eresp,
        "wretr": c.wretr,
        "wredis": c.wredis,
        "status": server_status(cli, srv),
        # HAProxy's eweight: drain keeps it (the balancer skips the server)
        "weight": srv.uweight if srv.drain else srv.weight,
        # slowstart: percent of the full weight (server_throttle_rate);
        # observe: the failed analyses (checks/observe.py)
        **({"throttle": srv_throttle(srv)} if srv.ramp else {}),
        **({"hanafail": srv.observe.failed_hana} if srv.observe is not None else {}),
        "act": 0 if srv.backup else 1,
        "bck": 1 if srv.backup else 0,
        "pid": 1,
        "iid": cli.proxy_id(px.name),
        "sid": cli.server_id(srv),
        "lbtot": srv.total - cli.lbtot_base.get(srv, 0) + others(srv, "lbtot"),
        "type": SV,
        "rate": c.rate(),
        "rate_max": c.rate_max,
        "cli_abrt": c.cli_abrt,
        "srv_abrt": c.srv_abrt,
        "lastsess": _since(c.lastsess, now),
        "qtime": 0,
        "ctime": 0,
        "rtime": 0,
        "ttime": 0,
        "mode": px.mode,
        "wrew": 0,
        "connect": c.connect,
        "reuse": c.reuse,
        "srv_icur": len(srv.pool.idle) + others(srv, "idle"),
        "qtime_max": 0,
        "ctime_max": 0,
        "rtime_max": 0,
        "ttime_max": 0,
        "eint": 0,
        "idle_conn_cur": len(srv.pool.idle) + others(srv, "idle"),
        "safe_conn_cur": 0,
        "used_conn_cur": 0,
        "need_conn_est": 0,
        "uweight": srv.uweight,
    }
    row.update(cli.book.server_fields(srv, int(now)))  # the check columns
    if srv.maxconn:
        row["slim"] = srv.maxconn
    if srv.maxqueue:
        row["qlimit"] = srv.maxqueue
    if http:
        _hrsp(row, c)
        row["req_tot"] = sum(c.hrsp)
    if level >= OPERATOR:
        host = f"[{srv.host}]" if srv.family == "ipv6" else srv.host
        row["addr"] = srv.host if srv.family == "unix" else f"{host}:{srv.port}"
    _modules(row, False)
    return row


def _be_row(cli: CliServer, px: Any, be: Any, level: int, now: float) -> dict[str, Any]:
    c = read(be)
    http = px.mode == "http"
    servers = be.servers
    active = [s for s in servers if not s.backup and s.eligible]
    backup = [s for s in servers if s.backup and s.eligible]
    weight = sum(s.weight for s in active) or sum(s.weight for s in backup)
    uweight = sum(s.uweight for s in active) or sum(s.uweight for s in backup)
    srv_c = [read(s) for s in servers]
    row: dict[str, Any] = {
        "pxname": px.name,
        "svname": "BACKEND",
        "qcur": len(be.queue) + others(be, "queue"),
        "qmax": c.qmax,
        "scur": c.scur,
        "smax": c.smax,
        "slim": cli.fullconn(px),
        "stot": c.stot,
        "bin": c.bin + sum(s.bin for s in srv_c),
        "bout": c.bout + sum(s.bout for s in srv_c),
        "dreq": c.dreq,
        "dresp": c.dresp,
        "econ": c.econ,
        "eresp": c.eresp,
        "wretr": c.wretr,
        "wredis": c.wredis,
        "status": "UP" if active or backup or not servers else "DOWN",
        "weight": weight,
        "act": len(active),
        "bck": len(backup),
        "pid": 1,
        "iid": cli.proxy_id(px.name),
        "sid": 0,
        "lbtot": sum(s.total - cli.lbtot_base.get(s, 0) + others(s, "lbtot") for s in servers),
        "type": BE,
        "rate": c.rate(),
        "rate_max": c.rate_max,
        "cli_abrt": c.cli_abrt,
        "srv_abrt": c.srv_abrt,
        "comp_in": 0,
        "comp_out": 0,
        "comp_byp": 0,
        "comp_rsp": 0,
        "lastsess": _since(c.lastsess, now),
        "qtime": 0,
        "ctime": 0,
        "rtime": 0,
        "ttime": 0,
        "mode": px.mode,
        "wrew": 0,
        "connect": sum(s.connect for s in srv_c),
        "reuse": sum(s.reuse for s in srv_c),
        "qtime_max": 0,
        "ctime_max": 0,
        "rtime_max": 0,
        "ttime_max": 0,
        "eint": 0,
        "uweight": uweight,
        "agg_server_status": 0,
        "agg_server_check_status": 0,
        "agg_check_status": 0,
    }
    row.update(cli.book.backend_fields(be, int(now)))  # chkdown, lastchg, downtime
    if http:
        _hrsp(row, c)
        row.update(req_tot=c.req_tot, cache_lookups=0, cache_hits=0)
    if level >= OPERATOR:
        row["algo"] = cli.algo(px)
    _modules(row, True)
    if http:  # the H1 multiplexer's view of the server side
        row.update(
            h1_open_connections=sum(
                len(s.pool.idle) + s.cur + others(s, "idle") + others(s, "cur") for s in servers
            ),
            h1_total_connections=row["connect"],
            h1_total_streams=row["connect"] + row["reuse"],
            h1_bytes_in=row["bout"],
            h1_bytes_out=row["bin"],
        )
    return row


def rows(cli: CliServer, level: int, iid: int = -1, types: int = 7, sid: int = -1) -> list[dict]:
    """Every row of ``show stat``; ``iid``/``types``/``sid`` as its filter
    (-1: any proxy / any server; ``types`` bits 1 frontend, 2 backend, 4 server)."""
    now = time.time()
    out: list[dict] = []
    fes = {fe.name: fe for fe in cli.rt.frontends}
    for px in cli.config.proxies:
        if px.disabled:
            continue
        if iid != -1 and cli.proxy_id(px.name) != iid:
            continue
        fe = fes.get(px.name)
        be = cli.rt.backends.get(px.name)
        if px.cap & FRONTEND and fe is not None and types & 1:
            out.append(_fe_row(cli, px, fe, now))
        if px.cap & BACKEND and be is not None:
            if types & 4:
                for srv in be.servers:
                    if sid == -1 or cli.server_id(srv) == sid:
                        out.append(_sv_row(cli, px, be, srv, level, now))
            if types & 2:
                out.append(_be_row(cli, px, be, level, now))
    return out


def srv_throttle(srv: Any) -> int:
    """HAProxy's server_throttle_rate: (100 * eweight + wdiv - 1) / (wdiv * uweight)."""
    if not srv.uweight:
        return 100
    return (100 * srv.uweight * srv.ramp + 15) // (16 * srv.uweight)


def csv_line(row: dict[str, Any]) -> str:
    get = row.get
    return ",".join(str(get(f, "")) for f in ALL_FIELDS) + ",\n"


def csv_header() -> str:
    return "# " + ",".join(ALL_FIELDS) + ",\n"


def process_id() -> int:
    return os.getpid()
