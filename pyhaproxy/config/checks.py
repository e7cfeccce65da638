"""Post-parse checks: cross references and consistency (HAProxy's
check_config_validity).  They run only on a configuration that parsed
without error; each problem is reported, then the verdict is returned."""

from __future__ import annotations

from pyhaproxy.config.model import BACKEND, FRONTEND, Config, Proxy
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
        if px.cap & FRONTEND:
            for rule in px.switching_rules:
                if "%[" in rule.backend:
                    continue  # dynamic name, resolved per request
                errors += _target(config, px, rule.backend, "use_backend", reporter)
            if px.settings.default_backend:
                errors += _target(
                    config, px, px.settings.default_backend[0], "default_backend", reporter
                )
        _missing_timeouts(px, reporter)
    return errors


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


def has_listener(config: Config) -> bool:
    return any(px.binds and not px.disabled for px in config.proxies)
