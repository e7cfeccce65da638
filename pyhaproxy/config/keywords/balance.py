"""`balance`, `hash-type`, `hash-balance-factor` syntax (configuration.txt §4.2).

The algorithms themselves arrive with the balancing issue; the table here
lists the names HAProxy 2.6 accepts and validates their arguments.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pyhaproxy.config.model import BACKEND
from pyhaproxy.config.registry import ConfigError, keyword

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

ALGORITHMS = (
    "roundrobin",
    "static-rr",
    "leastconn",
    "first",
    "source",
    "uri",
    "url_param",
    "hdr",
    "rdp-cookie",
    "random",
)
_USAGE = (
    "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', "
    "'url_param', 'hdr(name)' and 'rdp-cookie(name)' options."
)


@keyword("balance", sections=("defaults", "proxy"), cap=BACKEND)
def _balance(ctx: Context) -> None:
    arg = ctx.words[1] if len(ctx.words) > 1 else ""
    if not arg:
        return  # HAProxy 2.6 accepts a bare 'balance' and keeps the algorithm
    if arg.startswith("hdr(") and not re.fullmatch(r"hdr\(.+\)", arg):
        raise ConfigError("balance hdr requires an http header field name.")
    m = re.fullmatch(r"([a-z_-]+)(?:\((.*)\))?", arg)
    algo = m.group(1) if m else ""
    if algo not in ALGORITHMS:
        raise ConfigError(_USAGE)
    if algo == "url_param" and len(ctx.words) < 3:
        raise ConfigError("'balance url_param' requires an URL parameter name.")
    if algo == "random" and m and m.group(2) is not None and not m.group(2).isdigit():
        raise ConfigError("random : the number of draws must be a positive integer.")
    if algo == "uri":
        rest = list(ctx.words[2:])
        while rest:
            opt = rest.pop(0)
            if opt in ("len", "depth"):
                if not rest or not rest[0].isdigit() or int(rest[0]) < 1:
                    raise ConfigError(
                        f"'balance uri {opt}' expects a positive integer (got '{rest[0] if rest else ''}')."
                    )
                rest.pop(0)
            elif opt not in ("whole", "path-only"):
                raise ConfigError(
                    f"'balance uri' only accepts parameters 'whole', 'len', 'depth', and 'path-only' (got '{opt}')."
                )
    ctx.settings.balance = tuple(ctx.words[1:])


@keyword("hash-type", sections=("defaults", "proxy"), cap=BACKEND)
def _hash_type(ctx: Context) -> None:
    args = list(ctx.words[1:])
    if not args or args[0] not in ("map-based", "consistent"):
        raise ConfigError(
            "'hash-type' expects 'map-based' or 'consistent' but got '%s'."
            % (args[0] if args else "")
        )
    if len(args) > 1 and args[1] not in ("sdbm", "djb2", "wt6", "crc32", "none"):
        raise ConfigError(f"'hash-type {args[0]}' : unknown hash function '{args[1]}'.")
    if len(args) > 2 and args[2] != "avalanche":
        raise ConfigError(f"'hash-type {args[0]} {args[1]}' : unknown modifier '{args[2]}'.")
    ctx.settings.hash_type = tuple(args)


@keyword("hash-balance-factor", sections=("defaults", "proxy"), cap=BACKEND)
def _hbf(ctx: Context) -> None:
    arg = ctx.words[1] if len(ctx.words) > 1 else ""
    if not arg.isdigit() or (int(arg) != 0 and int(arg) <= 100):
        raise ConfigError("'hash-balance-factor' must be 0 or greater than 100.")
    ctx.settings.extra["hash-balance-factor"] = int(arg)
