"""Argument kinds shared by the bind and server option tables.

An option spec says how many words it takes and how to check them; the
value stored on the model is the checked value.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhaproxy.config.registry import ConfigError

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context


@dataclass(frozen=True, slots=True)
class Param:
    nargs: int  # 0 for a flag
    check: Callable[..., object] | None = None  # (option name, word, ctx) → value


def as_int(name: str, word: str, ctx: Context | None = None) -> int:
    """An integer read with C's atol() as HAProxy does (``12x`` is 12, ``abc``
    is 0); only an empty word is refused."""
    from pyhaproxy.config.units import atol

    if not word:
        raise ConfigError(f"'{name}' expects an integer argument.")
    return atol(word, name, ctx.warn if ctx is not None else None)


def as_long(name: str, word: str, ctx: Context | None = None) -> int:
    """atol() without even the empty check (server maxconn, weight...)."""
    from pyhaproxy.config.units import atol

    return atol(word, name, ctx.warn if ctx is not None else None)


def as_strict_positive(name: str, word: str, ctx: Context | None = None) -> int:
    """A strictly parsed integer > 0 (bind ``id``)."""
    try:
        value = int(word)
    except ValueError:
        raise ConfigError(f"'{name}' expects an integer argument.") from None
    if value <= 0:
        raise ConfigError(f"'{name}' has to be > 0.")
    return value


def as_positive(name: str, word: str, ctx: Context | None = None) -> int:
    value = as_int(name, word, ctx)
    if value <= 0:
        raise ConfigError(f"'{name}' has to be > 0.")
    return value


def as_not_negative(name: str, word: str, ctx: Context | None = None) -> int:
    value = as_int(name, word, ctx)
    if value < 0:
        raise ConfigError(f"'{name}' : invalid value {value}, must be >= 0")
    return value


def as_time(name: str, word: str, ctx: Context | None = None) -> int:
    from pyhaproxy.config.units import parse_time

    return parse_time(word, name)


def as_str(name: str, word: str, ctx: Context | None = None) -> str:
    if not word:
        raise ConfigError(f"'{name}' expects an argument.")
    return word


def as_file(base_key: str, exists: bool = True) -> Callable[..., str]:
    """A file that must exist when the configuration is read (HAProxy loads
    certificates and CA files while parsing); relative to ``*-base``.
    ``exists=False``: only the path (CA and CRL files are checked by
    pyhaproxy/tls, whose alerts differ)."""

    def check(name: str, word: str, ctx: Context | None = None) -> str:
        path = word
        base = ctx.config.global_.extra.get(base_key) if ctx is not None else None
        if base and not os.path.isabs(path):
            path = os.path.join(base, path)
        if exists and not os.path.exists(path):
            raise ConfigError(
                f"unable to stat SSL certificate from file '{path}' : No such file or directory."
            )
        return path

    return check


FLAG = Param(0)
INT = Param(1, as_int)
POSITIVE = Param(1, as_positive)
STRICT_POSITIVE = Param(1, as_strict_positive)
LONG = Param(1, as_long)
NOT_NEGATIVE = Param(1, as_not_negative)
TIME = Param(1, as_time)
STR = Param(1, as_str)
