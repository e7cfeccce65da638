"""``http-request use-service <name>`` (configuration.txt §4.2): the services.

A service answers a request itself.  ``SERVICES`` maps a service name to a
factory ``(rule) -> action``, the action being ``(RequestView) -> Local`` as
for the other http-request actions (``routing.py``); control-plane modules
(``pyhaproxy/runtime/prometheus.py``) register theirs at import, before any
configuration is compiled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SERVICES: dict[str, Callable[[Any], Callable[[Any], Any]]] = {}
