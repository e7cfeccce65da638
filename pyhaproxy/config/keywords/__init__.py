"""Keyword modules; importing this package registers every keyword.

Each module owns one feature's keywords (STYLE.md): when a feature's
behaviour lands, its keywords move beside that code and are flagged
``implemented=True``.
"""

from pyhaproxy.checks import keywords as _check_keywords  # noqa: F401
from pyhaproxy.config.keywords import (  # noqa: F401
    balance,
    bind,
    globals_,
    log,
    options,
    proxy,
    rules,
    server,
    ssl,
    timeouts,
)
from pyhaproxy.runtime import keywords as _runtime_keywords  # noqa: F401
