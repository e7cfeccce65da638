"""Post-parse checks: cross references and consistency (HAProxy's
check_config_validity).  They run only on a configuration that parsed
without error; each problem is reported, then the verdict is returned."""

from __future__ import annotations

import socket

from pyhaproxy.config.model import BACKEND, FRONTEND, Config, Proxy
from pyhaproxy.config.units import is_ip_literal
from pyhaproxy.messages import Reporter


def _target(config: Config, fe: Proxy, name: str, rule: str, reporter: Reporter) -> int:
    be = config.proxy(name, BACKEND)
    if be is None:
        reporter.alert(f"Proxy '{fe.name}': unable to find required {rule}: '{name}'.")
        return 1
    if fe.mode == "http" and be.mode != "http":
        reporter.alert(
            f"http frontend '{fe.name}' ({fe.where}) tries to use incompatible tcp backend "
            f"'{be.name}' ({be.where}) in a '{rule}' rule (see 'mode')."
        )
        return 1
    return 0


def run(config: Config, reporter: Reporter) -> int:
    """Report every problem; return the number of errors."""
    errors = 0
    for px in config.proxies:
        if px.disabled:
            continue
        # Checked in every proxy: HAProxy keeps (and warns about) switching
        # rules written in a backend.
        for rule in px.switching_rules:
            if "%[" in rule.backend:
                continue  # dynamic name, resolved per request
            errors += _target(config, px, rule.backend, "use_backend", reporter)
        if px.settings.default_backend:
            errors += _target(
                config, px, px.settings.default_backend[0], "default_backend", reporter
            )
        _missing_timeouts(px, reporter)
        if px.cap & BACKEND and "dispatch" in px.settings.extra and px.settings.balance:
            reporter.warning(
                f"dispatch address of proxy '{px.name}' will be ignored in balance mode."
            )
        _l7_hash_in_tcp(px, reporter)
    from pyhaproxy.config.keywords.ssl import check as ssl_check  # (import cycle)

    errors += ssl_check(config, reporter)  # builds every SSL context
    return errors


def _l7_hash_in_tcp(px: Proxy, reporter: Reporter) -> None:
    """``balance uri|url_param|hdr`` outside ``mode http``: roundrobin
    (pyhaproxy/lb/__init__.py settings_of does the same)."""
    algo = (px.settings.balance or ("",))[0].partition("(")[0]
    if px.cap & BACKEND and px.mode != "http" and algo in ("uri", "url_param", "hdr"):
        reporter.warning(
            f"Layer 7 hash not possible for {px.kind} '{px.name}' (needs 'mode http'). "
            "Falling back to round robin."
        )


def _missing_timeouts(px: Proxy, reporter: Reporter) -> None:
    t = px.settings.timeouts
    missing = (px.cap & FRONTEND and not t.get("client")) or (
        px.cap & BACKEND and (not t.get("connect") or not t.get("server"))
    )
    if missing:
        reporter.warning(
            f"missing timeouts for {px.kind} '{px.name}'.\n"
            "   | While not properly invalid, you will certainly encounter various problems\n"
            "   | with such a configuration. To fix this, please ensure that all following\n"
            "   | timeouts are set to a non-zero value: 'client', 'connect', 'server'."
        )


def resolve_servers(config: Config, reporter: Reporter) -> int:
    """Resolve server host names, as HAProxy does once the configuration is
    valid (``init-addr libc``); report each failure, return their number."""
    failed = 0
    for px in config.proxies:
        for srv in px.servers:
            if srv.address is None or is_ip_literal(srv.address):
                continue
            try:
                socket.getaddrinfo(srv.address.host, None, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError):
                reporter.alert(
                    f"[{srv.where}] : 'server {px.name}/{srv.name}' : "
                    f"could not resolve address '{srv.address.host}'."
                )
                failed += 1
    if failed:
        reporter.alert("Failed to initialize server(s) addr.")
    return failed


def has_listener(config: Config) -> bool:
    cli = config.global_.extra.get("cli")  # stats sockets listen too (runtime/model.py)
    return any(px.binds and not px.disabled for px in config.proxies) or bool(
        cli is not None and cli.sockets
    )
