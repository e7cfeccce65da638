"""The keyword registry: feature modules declare the keywords they own.

A keyword names the sections where it is allowed and a parse function
``parse(ctx) -> None`` that reads ``ctx.words`` and fills the model, raising
``ConfigError`` with HAProxy's wording.  ``implemented=False`` marks a keyword
whose syntax is checked but whose behaviour has not landed: ``-c`` accepts it
with a warning, a real start refuses it.  The loader holds no keyword names.

Sub-tables (``Table``) serve keywords that take a second word
(``option``, ``timeout``, bind and server options, ``balance`` algorithms).

Registries are module-level and filled at import time; ``freeze()`` is called
before a configuration is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from pyhaproxy.config.loader import Context

GLOBAL = "global"
DEFAULTS = "defaults"
PROXY_SECTIONS = frozenset({"frontend", "backend", "listen"})


class ConfigError(Exception):
    """A configuration problem; the loader adds ``parsing [file:line] :``.

    ``bare=True`` keeps the message as written (for HAProxy messages that do
    not start with ``parsing``, such as ``[file:line] : 'server b/s' : ...``).
    """

    def __init__(self, message: str, bare: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.bare = bare


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str
    parse: Callable[[Context], None]
    in_global: bool = False
    in_defaults: bool = False
    in_proxy: bool = False
    cap: int = 0  # capability a proxy needs for the keyword to have effect
    implemented: bool = False
    cap_hint: str = ""  # appended to the "ignored because" warning
    negatable: bool = False  # accepts a "no" / "default" prefix


T = TypeVar("T")


@dataclass(slots=True)
class Table(Generic[T]):
    """A named table of sub-keywords (``option httplog``, ``weight`` ...)."""

    what: str
    entries: dict[str, T] = field(default_factory=dict)
    frozen: bool = False

    def add(self, name: str, entry: T) -> T:
        if self.frozen:
            raise RuntimeError(f"{self.what} table is frozen")
        if name in self.entries:
            raise RuntimeError(f"{self.what} '{name}' registered twice")
        self.entries[name] = entry
        return entry

    def get(self, name: str) -> T | None:
        return self.entries.get(name)

    def names(self) -> list[str]:
        return list(self.entries)


class Registry:
    def __init__(self) -> None:
        # (scope, name) → Keyword; scope is "global" or "proxy" (defaults and
        # proxies), as a name such as `maxconn` means different things there.
        self.keywords: dict[tuple[str, str], Keyword] = {}
        self.frozen = False

    def register(self, kw: Keyword) -> Keyword:
        if self.frozen:
            raise RuntimeError("keyword registry is frozen")
        scopes = (["global"] if kw.in_global else []) + (
            ["proxy"] if kw.in_proxy or kw.in_defaults else []
        )
        for scope in scopes:
            if (scope, kw.name) in self.keywords:
                raise RuntimeError(f"keyword '{kw.name}' registered twice in {scope}")
            self.keywords[(scope, kw.name)] = kw
        return kw

    def keyword(
        self,
        name: str,
        *,
        sections: Iterable[str],
        cap: int = 0,
        implemented: bool = False,
        cap_hint: str = "",
        negatable: bool = False,
    ) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
        """Decorator registering ``parse`` under ``name`` for ``sections``
        (``"global"``, ``"defaults"``, ``"proxy"``)."""
        secs = set(sections)

        def deco(parse: Callable[[Context], None]) -> Callable[[Context], None]:
            self.register(
                Keyword(
                    name,
                    parse,
                    in_global=GLOBAL in secs,
                    in_defaults=DEFAULTS in secs,
                    in_proxy="proxy" in secs,
                    cap=cap,
                    implemented=implemented,
                    cap_hint=cap_hint,
                    negatable=negatable,
                )
            )
            return parse

        return deco

    def get(self, name: str, global_: bool) -> Keyword | None:
        return self.keywords.get(("global" if global_ else "proxy", name))

    def names(self, global_: bool) -> list[str]:
        scope = "global" if global_ else "proxy"
        return [name for (s, name) in self.keywords if s == scope]

    def freeze(self) -> None:
        self.frozen = True


REGISTRY = Registry()
keyword = REGISTRY.keyword
