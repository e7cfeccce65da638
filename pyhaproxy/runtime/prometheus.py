"""``http-request use-service prometheus-exporter`` (HAProxy's addons/promex).

Answers with the Prometheus text format (version 0.0.4): the metrics of
``prom_metrics.METRICS`` in HAProxy 2.6's order and names
(``haproxy_process_*``, ``haproxy_frontend_*``, ``haproxy_backend_*``,
``haproxy_server_*``), labels ``proxy``, ``server``, ``state`` (status
metrics, one sample per state) and ``code`` (HTTP responses by class).
Values come from ``show info`` and the ``show stat`` rows (``stats.py``); a
column a row leaves empty is ``NaN``; HTTP-only metrics skip TCP proxies; a
metric without any sample has no HELP/TYPE lines, as HAProxy's.

The service is registered in ``dataplane/services.py`` at import; it reads
the runtime through the ``CliServer`` that ``start_cli`` binds to it.
"""

from __future__ import annotations

from typing import Any

from pyhaproxy.dataplane.services import SERVICES
from pyhaproxy.runtime.prom_metrics import METRICS

HTTP_ONLY = frozenset(
    {
        "hrsp",
        "req_tot",
        "req_rate_max",
        "comp_in",
        "comp_out",
        "comp_byp",
        "comp_rsp",
        "cache_lookups",
        "cache_hits",
        "intercepted",
    }
)
SECONDS = frozenset(
    {"qtime", "ctime", "rtime", "ttime", "qtime_max", "ctime_max", "rtime_max", "ttime_max"}
)
STATES = {
    "frontend": ("DOWN", "UP"),
    "backend": ("DOWN", "UP"),
    "server": ("DOWN", "UP", "MAINT", "DRAIN", "NOLB"),
}
CHECK_STATES = [
    "HANA",
    "SOCKERR",
    "L4OK",
    "L4TOUT",
    "L4CON",
    "L6OK",
    "L6TOUT",
    "L6RSP",
    "L7TOUT",
    "L7RSP",
    "L7OK",
    "L7OKC",
    "L7STS",
    "PROCERR",
    "PROCTOUT",
    "PROCOK",
]
CODES = (("1xx", "hrsp_1xx"), ("2xx", "hrsp_2xx"), ("3xx", "hrsp_3xx"), ("4xx", "hrsp_4xx"))
CODES += (("5xx", "hrsp_5xx"), ("other", "hrsp_other"))


class Exporter:
    """The exporter of this process; ``cli`` is set once the runtime runs."""

    def __init__(self) -> None:
        self.cli: Any = None

    def action(self, rule: Any) -> Any:
        def act(view: Any) -> Any:
            return self.answer()

        return act

    def answer(self) -> Any:
        body = self.text().encode() if self.cli is not None else b""
        hd = (
            "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\n"
            "content-type: text/plain; version=0.0.4\r\ntransfer-encoding: chunked\r\n"
        )
        chunked = (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
        keep = (hd + "\r\n").encode()
        close = (hd + "connection: close\r\n\r\n").encode()
        return ((keep + chunked, close + chunked), (keep, close))

    def text(self) -> str:
        from pyhaproxy.runtime import stats
        from pyhaproxy.runtime.commands import OPERATOR
        from pyhaproxy.runtime.show import info_fields

        cli = self.cli
        info = dict(info_fields(_Session(cli)))
        rows = stats.rows(cli, OPERATOR)
        states: dict[str, list[str]] = {}
        for r in rows:
            if r["type"] == stats.SV:
                states.setdefault(r["pxname"], []).append(_state("server", str(r["status"])))
                if "check_status" in r:  # the backend's agg_check_status
                    key = f"check:{r['pxname']}"
                    states.setdefault(key, []).append(_check_state(r["check_status"]))
        by_type = {
            "frontend": [r for r in rows if r["type"] == stats.FE],
            "backend": [r for r in rows if r["type"] == stats.BE],
            "server": [r for r in rows if r["type"] == stats.SV],
        }
        out: list[str] = []
        for scope, name, kind, text, source in METRICS:
            full = f"haproxy_{scope}_{name}"
            samples = (
                _process(full, source, info)
                if scope == "process"
                else _proxy_samples(full, scope, source, by_type[scope], states)
            )
            if samples:
                out.append(f"# HELP {full} {text}\n# TYPE {full} {kind}\n")
                out.extend(samples)
        return "".join(out)


class _Session:
    """What ``show.info_fields`` reads of a CLI session."""

    def __init__(self, cli: Any) -> None:
        self.server = cli
        self.rt = cli.rt


def _process(full: str, source: str, info: dict[str, Any]) -> list[str]:
    if source == "Build info":
        return [f'{full}{{version="{info["Version"]}"}} 1\n']
    value = info.get(source, "") if source else ""
    return [f"{full} {value if value != '' else 'NaN'}\n"]


def _labels(scope: str, row: dict[str, Any]) -> str:
    if scope == "server":
        return f'proxy="{row["pxname"]}",server="{row["svname"]}"'
    return f'proxy="{row["pxname"]}"'


def _state(scope: str, status: str) -> str:
    if scope != "server":
        return "UP" if status in ("OPEN", "UP") else "DOWN"
    if status in ("no check", "UP"):
        return "UP"
    for state in ("MAINT", "DRAIN", "NOLB", "UP"):
        if status.startswith(state):
            return state
    return "DOWN"


def _check_state(status: str) -> str:
    """A check status without the "in progress" mark ("* L7OK")."""
    return status[2:] if status.startswith("* ") else status


def _proxy_samples(
    full: str, scope: str, source: str, rows: list[dict], states: dict[str, list[str]]
) -> list[str]:
    out = []
    if source == "hrsp":  # every object for 1xx, then for 2xx... as HAProxy
        http = [r for r in rows if r["mode"] == "http"]
        return [
            f'{full}{{{_labels(scope, r)},code="{code}"}} {r[f]}\n'
            for code, f in CODES
            for r in http
        ]
    for row in rows:
        if source in HTTP_ONLY and row["mode"] != "http":
            continue
        labels = _labels(scope, row)
        if source.startswith("agg_") and row["pxname"] not in states:
            continue  # a backend without servers has no aggregate (promex)
        if source in ("agg_server_status", "agg_server_check_status"):
            got = states.get(row["pxname"], [])
            out.extend(f'{full}{{{labels},state="{s}"}} {got.count(s)}\n' for s in STATES["server"])
        elif source == "agg_check_status":
            got = states.get(f"check:{row['pxname']}", [])
            out.extend(f'{full}{{{labels},state="{s}"}} {got.count(s)}\n' for s in CHECK_STATES)
        elif source == "check_status":
            # servers whose check runs only (promex: enabled, not paused)
            if source in row:
                cur = _check_state(row[source])
                out.extend(
                    f'{full}{{{labels},state="{s}"}} {int(s == cur)}\n' for s in CHECK_STATES
                )
        elif source == "check_code":
            # a running check's layer 5-7 code, 0 when it has none (promex)
            if "check_status" in row:
                out.append(f"{full}{{{labels}}} {row.get(source, 0)}\n")
        elif source == "check_duration":
            if source in row:  # a running check that ran
                out.append(f"{full}{{{labels}}} {row[source] / 1000:f}\n")
        elif source == "status":
            cur = _state(scope, str(row["status"]))
            out.extend(f'{full}{{{labels},state="{s}"}} {int(s == cur)}\n' for s in STATES[scope])
        elif source == "hrsp":  # code-major: see below
            continue
        else:
            value = row.get(source, "")
            if value == "":
                text = "NaN"
            elif source in SECONDS:
                text = f"{int(value) / 1000:f}"
            else:
                text = str(value)
            out.append(f"{full}{{{labels}}} {text}\n")
    return out


EXPORTER = Exporter()
SERVICES["prometheus-exporter"] = EXPORTER.action
