"""``stats admin { if | unless } <cond>`` (configuration.txt §4.2): the
stats page's administration form and what its POST does.

The form (page.py draws it when the condition matches the request) posts
``s=<server>`` for every checked server, ``action=<what>`` and
``b=<backend>`` (``#<id>`` in HAProxy's form).  ``apply()`` is HAProxy
2.6's stats_process_http_post: parameters are read from the last one
backwards, the last ``b`` and ``action`` win, each server is changed
through the same code as the runtime API, and the outcome is one of the
``st=`` codes the redirect carries (``DONE`` every named server changed,
``PART`` some, ``NONE`` nothing to do, ``ERRP`` bad parameters, ``EXCD``
a body larger than the buffer, ``DENY`` no admin right).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from pyhaproxy.dataplane.backend import DOWN, FDRAIN, FMAINT, STOPPING, UP
from pyhaproxy.runtime import adminstate
from pyhaproxy.runtime.health import CHK_ST_CONFIGURED, CHK_ST_ENABLED

if TYPE_CHECKING:
    from pyhaproxy.runtime.server import CliServer

WEB = "changed from Web interface"
LINESIZE = 2048  # HAProxy's key buffer: a longer parameter is refused (ERRP)

# the select of the form, in HAProxy's order (value, label)
ACTIONS = (
    ("ready", "Set state to READY"),
    ("drain", "Set state to DRAIN"),
    ("maint", "Set state to MAINT"),
    ("dhlth", "Health: disable checks"),
    ("ehlth", "Health: enable checks"),
    ("hrunn", "Health: force UP"),
    ("hnolb", "Health: force NOLB"),
    ("hdown", "Health: force DOWN"),
    ("dagent", "Agent: disable checks"),
    ("eagent", "Agent: enable checks"),
    ("arunn", "Agent: force UP"),
    ("adown", "Agent: force DOWN"),
    ("shutdown", "Kill Sessions"),
)
# the old names HAProxy still accepts
OLD_ACTIONS = ("disable", "enable", "stop", "start")

# the message box of the page after the redirect (``;st=<code>``):
# code -> (style, text)
MESSAGES = {
    "DONE": ("active_up", "Action processed successfully."),
    "PART": (
        "active_going_down",
        "Action partially processed.<br>Some server names are probably unknown or "
        "ambiguous (duplicated names in the backend).",
    ),
    "NONE": ("active_going_down", "Nothing has changed."),
    "DENY": ("active_down", "<b>Action denied.</b>"),
    "ERRP": (
        "active_down",
        "Action not processed because of invalid parameters.<ul><li>The action is maybe "
        "unknown.</li><li>Invalid key parameter (empty or too long).</li><li>The backend "
        "name is probably unknown or ambiguous (duplicated names).</li><li>Some server "
        "names are probably unknown or ambiguous (duplicated names in the backend).</li></ul>",
    ),
    "EXCD": (
        "active_down",
        "<b>Action not processed : the buffer couldn't store all the data.<br>You should "
        "retry with less servers at a time.</b>",
    ),
}
UNKNOWN = ("active_no_check", "Unexpected result.")  # "st=UNKN"


def apply(cli: CliServer, body: bytes) -> str:
    """Run the form's action on its servers; the ``st=`` code."""
    params = []
    for part in body.decode("latin-1").split("&"):
        if len(part) >= LINESIZE:
            return "ERRP"
        key, _, value = part.partition("=")
        params.append((unquote_plus(key), unquote_plus(value)))
    be = action = None
    names: list[str] = []
    for key, value in reversed(params):
        if key == "b" and be is None:
            be = _backend(cli, value)
            if be is None:
                return "ERRP"
        elif key == "action" and action is None:
            if value not in {a for a, _ in ACTIONS} | set(OLD_ACTIONS):
                return "ERRP"
            action = value
        elif key == "s":
            names.append(value)
    if be is None or action is None:
        return "NONE"
    total = altered = 0
    for name in names:
        srv = next((s for s in be.servers if s.name == name), None)
        if srv is None:
            total += 1  # unknown or ambiguous
            continue
        if _act(cli, srv, action):
            total += 1
            altered += 1
    if not total:
        return "NONE"
    if not altered:
        return "ERRP"
    return "DONE" if altered == total else "PART"


def _backend(cli: CliServer, name: str) -> Any:
    """A backend by name or ``#<id>`` (HAProxy's proxy_be_by_name)."""
    backends = cli.rt.backends
    if name.startswith("#"):
        for bname, be in backends.items():
            if f"#{cli.proxy_id(bname)}" == name:
                return be
        return None
    return backends.get(name)


def _act(cli: CliServer, srv: Any, action: str) -> bool:
    """One server; True when the action applied to it."""
    from pyhaproxy.runtime.servers import kill_sessions, set_admin

    book = cli.book
    rec = book.rec(srv)
    if action in ("ready", "drain", "maint"):
        set_admin(cli, srv, action)
        return True
    if action in ("disable", "enable"):  # the old forms: one forced bit each
        return adminstate.force(book, srv, FMAINT, action == "disable")
    if action in ("stop", "start"):
        return adminstate.force(book, srv, FDRAIN, action == "stop")
    if action in ("dhlth", "ehlth", "dagent", "eagent"):
        agent = action[1:] == "agent"
        if not book.check_state(srv, agent) & CHK_ST_CONFIGURED:
            return False
        (rec.agent if agent else rec.check).enabled = action[0] == "e"
        return True
    if action in ("hrunn", "hnolb", "hdown"):
        if rec.tracked is not None:
            return False
        book.force_health(srv, {"hrunn": UP, "hnolb": STOPPING, "hdown": DOWN}[action], WEB)
        return True
    if action in ("arunn", "adown"):
        if not book.check_state(srv, True) & CHK_ST_ENABLED:
            return False
        book.force_agent(srv, action == "arunn", WEB)
        return True
    # shutdown: the server's sessions end (a stopped proxy has none)
    kill_sessions(cli.rt, srv)
    return True
