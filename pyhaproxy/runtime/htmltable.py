"""The tables of the HTML statistics page, one per proxy, in HAProxy 2.6's
layout (src/stats.c stats_dump_html_px_hdr, stats_dump_fields_html,
stats_dump_html_px_end): the counters of each row, then the "Server"
group (Status with its age, LastChk, Wght, Act, Bck, Chk, Dwn, Dwntme,
Thrtle), the row styles (``active_up``, ``active_going_down``...), and with
``stats admin`` the checkboxes and the action form (admin.py).
Rendering only: the values are the ``show stat`` rows (stats.py).
"""

from __future__ import annotations

import html

from pyhaproxy.runtime import stats
from pyhaproxy.runtime.admin import ACTIONS

# the columns before the "Server" group: (title, stat columns, labels)
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
)
_SERVER = ("Status", "LastChk", "Wght", "Act", "Bck", "Chk", "Dwn", "Dwntme", "Thrtle")


def human_time(t: int) -> str:
    """HAProxy's human_time(t, 1): two units at most ("19s", "1m5s", "2d3h")."""
    if t < 0:
        return "?"
    out, cnt = "", 2
    if t >= 86400:
        out += f"{t // 86400}d"
        cnt -= 1
    if cnt and t % 86400 // 3600:
        out += f"{t % 86400 // 3600}h"
        cnt -= 1
    if cnt and t % 3600 // 60:
        out += f"{t % 3600 // 60}m"
        cnt -= 1
    if (cnt and t % 60) or not t:
        out += f"{t % 60}s"
    return out


def _row_class(row: dict) -> str:
    """HAProxy 2.6 stats_dump_fields_html's choice of a row's style."""
    if row["type"] == stats.FE:
        return "frontend"
    if row["type"] == stats.BE:
        return "backend"
    status = str(row.get("status", ""))
    if status.startswith("MAINT"):
        return "maintain"
    if status in ("DOWN", "DOWN (agent)"):
        style = "down"
    elif status.startswith("DOWN "):
        style = "going_up"
    elif status.startswith("DRAIN"):
        style = "draining"
    elif status.startswith("NOLB "):
        style = "going_down"
    elif status.startswith("NOLB"):
        style = "nolb"
    elif status == "no check":
        style = "no_check"
    elif "chkfail" not in row or row.get("check_health") == _top(row):
        style = "up" if row.get("weight") else "draining"
    else:
        style = "going_down"
    return f"{'backup' if row.get('bck') == 1 else 'active'}_{style}"


def _top(row: dict) -> int:
    """check_rise + check_fall - 1 as HAProxy's unsigned arithmetic gives
    it for a row without them."""
    return (row.get("check_rise", 0) + row.get("check_fall", 0) - 1) & 0xFFFFFFFF


def _check_cell(row: dict, agent: bool) -> str:
    """The LastChk cell: ``L7OK/200 in 0ms`` with the description as a tip."""
    kind = "agent" if agent else "check"
    last = row.get("last_agt" if agent else "last_chk", "")
    out = f"<td class=ac><u> {html.escape(str(row[f'{kind}_status']))}"
    if f"{kind}_code" in row:
        out += f"/{row[f'{kind}_code']}"
    if f"{kind}_duration" in row:
        out += f" in {row[f'{kind}_duration']}ms"
    out += f"<div class=tips>{row.get(f'{kind}_desc', '')}"
    if last:
        out += f": {html.escape(str(last))}"
    return out + "</div></u></td>"


def _server_cells(row: dict) -> str:
    """The "Server" group of a server's row (stats_dump_fields_html)."""
    status = str(row["status"])
    since = human_time(row.get("lastchg", 0))
    if status.startswith("MAINT"):
        text = f"{since} MAINT"
    elif status.startswith("no ch"):
        text = "<i>no check</i>"
    else:
        text = f"{since} {html.escape(status)}"
        if status.startswith("DOWN"):
            if row.get("check_health"):
                text += " &uarr;"
        elif row.get("check_health", 0) < _top(row):
            text += " &darr;"
    out = [f"<td class=ac>{text}</td>"]
    if status.startswith("DOWN") and "agent_status" in row and not row.get("agent_health"):
        out.append(_check_cell(row, True))
    elif "check_status" in row:
        out.append(_check_cell(row, False))
    else:
        out.append("<td></td>")
    bck = row.get("bck") == 1
    out.append(
        f"<td class=ac>{row.get('weight', 0)}/{row.get('uweight', 0)}</td>"
        f"<td class=ac>{'-' if bck else 'Y'}</td><td class=ac>{'Y' if bck else '-'}</td>"
    )
    if "chkfail" in row:
        hana = row.get("hanafail", "")
        out.append(
            f"<td><u>{row['chkfail']}{'' if hana == '' else f'/{hana}'}"
            f"<div class=tips>Failed Health Checks{'' if hana == '' else '/Health Analyses'}"
            f"</div></u></td><td>{row.get('chkdown', 0)}</td>"
            f"<td>{human_time(row.get('downtime', 0))}</td>"
        )
    elif status != "MAINT" and row.get("tracked"):
        via = html.escape(str(row["tracked"]))
        out.append(f'<td class=ac colspan=3><a class=lfsb href="#{via}">via {via}</a></td>')
    else:
        out.append("<td colspan=3></td>")
    throttle = row.get("throttle", "")
    out.append(f"<td class=ac>{throttle} %</td>" if throttle != "" else "<td class=ac>-</td>")
    return "".join(out)


def _backend_cells(row: dict) -> str:
    status = str(row["status"])
    shown = status if status != "DOWN" else '<font color="red"><b>DOWN</b></font>'
    downtime = human_time(row["downtime"]) if "downtime" in row else "&nbsp;"
    return (
        f"<td class=ac>{human_time(row.get('lastchg', 0))} {shown}</td><td class=ac>&nbsp;</td>"
        f"<td class=ac>{row.get('weight', 0)}/{row.get('uweight', 0)}</td>"
        f"<td class=ac>{row.get('act', 0)}</td><td class=ac>{row.get('bck', 0)}</td>"
        f"<td class=ac>&nbsp;</td><td>{row.get('chkdown', 0)}</td><td>{downtime}</td><td></td>"
    )


def _cell(row: dict, col: str) -> str:
    value = row.get(col, "")
    if col == "lastsess" and value != "":
        value = human_time(int(value))
    return f"<td>{html.escape(str(value))}</td>"


def proxy_table(name: str, rows: list[dict], admin: bool = False, iid: int = 0) -> str:
    """One proxy's table; with ``admin``, a checkbox column, and for a
    backend with servers the form and its action select (HAProxy's
    stats_dump_html_px_hdr / _end)."""
    esc = html.escape(name)
    form = admin and any(r["type"] == stats.SV for r in rows)
    out = [
        '<form method="post">' if form else "",
        f'<table class="tbl" width="100%">\n<tr class="titre"><th class="pxname" width="10%">'
        f'<a name="{esc}"></a><a class=px href="#{esc}">{esc}</a></th>'
        '<th class="empty" width="90%"></th></tr>\n</table>\n'
        '<table class="tbl" width="100%">\n<tr class="titre">',
    ]
    if form:
        out.append(
            '<th rowspan=2 width=1><input type="checkbox" onclick="for(c in '
            f"document.getElementsByClassName('{esc}-checkbox')) "
            f"document.getElementsByClassName('{esc}-checkbox').item(c).checked = "
            'this.checked"></th>'
        )
    elif admin:
        out.append("<th rowspan=2></th>")
    out.append("<th rowspan=2></th>")
    out.extend(f"<th colspan={len(cols)}>{title}</th>" for title, cols, _ in _COLUMNS)
    out.append(f'<th colspan={len(_SERVER)}>Server</th></tr>\n<tr class="titre">')
    out.extend(f"<th>{label}</th>" for _, _, labels in _COLUMNS for label in labels)
    out.extend(f"<th>{label}</th>" for label in _SERVER)
    out.append("\n</tr>")
    for row in rows:
        kind = row["type"]
        out.append(f'<tr class="{_row_class(row)}">')
        if admin:
            if kind == stats.SV:
                sv = html.escape(str(row["svname"]))
                out.append(
                    f'<td><input class=\'{esc}-checkbox\' type="checkbox" name="s" '
                    f'value="{sv}"></td>'
                )
            else:
                out.append("<td></td>")
        label = {stats.FE: "Frontend", stats.BE: "Backend"}.get(kind, row["svname"])
        anchor = html.escape(f"{name}/{label}")
        out.append(
            f'<td class=ac><a name="{anchor}"></a><a class=lfsb href="#{anchor}">'
            f"{html.escape(str(label))}</a></td>"
        )
        for _, cols, _ in _COLUMNS:
            out.extend(_cell(row, c) for c in cols)
        if kind == stats.SV:
            out.append(_server_cells(row))
        elif kind == stats.BE:
            out.append(_backend_cells(row))
        else:
            status = html.escape(str(row["status"]))
            out.append(f"<td class=ac>{status}</td><td class=ac colspan=8></td>")
        out.append("</tr>\n")
    out.append("</table>")
    if form:
        options = "".join(f'<option value="{v}">{text}</option>' for v, text in ACTIONS)
        out.append(
            "Choose the action to perform on the checked servers : <select name=action>"
            f'<option value=""></option>{options}</select>'
            f'<input type="hidden" name="b" value="#{iid}">&nbsp;'
            '<input type="submit" value="Apply"></form>'
        )
    out.append("<p>\n")
    return "".join(out)
