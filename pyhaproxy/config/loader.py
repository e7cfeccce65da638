"""The loader: reads lines, opens sections, dispatches keywords, runs checks.

It knows section names but no keyword names (those live with their features,
see ``registry.py``).  Errors accumulate: every problem is reported with its
``file:line`` before the verdict.  As in HAProxy, an ABORT error (a broken
``.if``, an ``.alert``, a missing ``from`` section) stops reading, FATAL
errors let parsing go on, and the post-parse checks run only on a
configuration that parsed cleanly.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pyhaproxy.config import checks
from pyhaproxy.config.model import (
    BACKEND,
    FRONTEND,
    LISTEN,
    Config,
    Defaults,
    Proxy,
    ProxySettings,
    Used,
)
from pyhaproxy.config.reader import Line, Reader, config_files
from pyhaproxy.config.registry import REGISTRY, ConfigError, Keyword
from pyhaproxy.config.suggest import best_match
from pyhaproxy.config.units import invalid_char
from pyhaproxy.messages import Reporter, Where, parsing

PROXY_KINDS = {"frontend": FRONTEND, "backend": BACKEND, "listen": LISTEN}
# Rules a defaults section may hand down to either frontends or backends.
_INHERITED_RULES = frozenset(
    {"tcp-request", "tcp-response", "http-request", "http-response", "http-after-response"}
)
CORE_SECTIONS = ("global", "defaults", *PROXY_KINDS)
# HAProxy sections whose features have not landed: recognised, refused.
UNSUPPORTED_SECTIONS = (
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "http-errors",
    "ring",
    "program",
    "cache",
    "log-forward",
    "fcgi-app",
)


# keywords whose second word names what is configured ("option httplog")
_FAMILIES = frozenset(
    {
        "option",
        "timeout",
        "stats",
        "http-request",
        "http-response",
        "tcp-request",
        "tcp-response",
        "http-check",
        "tcp-check",
        "capture",
    }
)


@dataclass(slots=True)
class Context:
    """What a keyword parser sees: the line and the object it configures."""

    loader: Loader
    where: Where
    words: tuple[str, ...]
    section: str
    proxy: Proxy | None = None
    defaults: Defaults | None = None
    prefix: str | None = None  # "no" or "default"

    @property
    def config(self) -> Config:
        return self.loader.config

    @property
    def settings(self) -> ProxySettings:
        if self.proxy is not None:
            return self.proxy.settings
        assert self.defaults is not None
        return self.defaults.settings

    @property
    def cap(self) -> int:
        return self.proxy.cap if self.proxy is not None else LISTEN

    @property
    def label(self) -> str:
        """``frontend 'f'`` — how HAProxy names the current proxy."""
        if self.proxy is not None:
            return f"{self.proxy.kind} '{self.proxy.name}'"
        return "defaults section"

    def warn(self, text: str) -> None:
        self.loader.reporter.warning(parsing(self.where, text))

    def pending(self, what: str | None = None) -> None:
        """Record that this line asks for behaviour pyhaproxy lacks yet."""
        used = Used(self.where, what or " ".join(self.words[:2]))
        if self.section == "global":
            self.config.global_.used.append(used)
        else:
            self.settings.used.append(used)


@dataclass(slots=True)
class Result:
    config: Config | None
    status: int  # 0 valid, 1 errors
    warnings: int = 0
    errors_by_file: dict[str, int] = field(default_factory=dict)


class Loader:
    def __init__(self, reporter: Reporter, env: Mapping[str, str] | None = None) -> None:
        from pyhaproxy.config import keywords  # noqa: F401  (registers every keyword)

        REGISTRY.freeze()
        self.reporter = reporter
        self.env = env
        self.config = Config(files=[])
        self.errors: dict[str, int] = {}
        self.aborted = False
        self._section = ""
        self._proxy: Proxy | None = None
        self._defaults: Defaults | None = None
        self._last_defaults: Defaults | None = None
        self._skip_section = False
        self._orphan = False  # lines follow a refused proxy header
        # ACLs inherited from defaults come first; a condition may only name
        # the ones written in its own section (settings.acls[acl_base:]).
        self.acl_base = 0
        self._rules_used_by: dict[int, int] = {}  # id(Defaults) → caps inheriting its rules

    # ---- error accounting ------------------------------------------------

    def _error(self, where: Where, text: str, bare: bool = False) -> None:
        self.reporter.alert(text if bare else parsing(where, text))
        self.errors[where.file] = self.errors.get(where.file, 0) + 1

    # ---- entry point -----------------------------------------------------

    def load(self, paths: Iterable[str]) -> Result:
        files = config_files(paths, self.reporter)
        if files is None:
            return Result(None, 1)
        self.config.files = files
        reader = Reader(self.reporter, (*CORE_SECTIONS, *UNSUPPORTED_SECTIONS), self.env)
        for line in reader.read(files):
            self._line(line)
            if self.aborted:
                break
        errors = dict(reader.errors)
        for f, n in self.errors.items():
            errors[f] = errors.get(f, 0) + n
        for f in files:
            if errors.get(f):
                self.reporter.alert(f"Error(s) found in configuration file : {f}")
        if reader.aborted or self.aborted:
            return Result(None, 1, errors_by_file=errors)
        if errors:
            self.reporter.alert("Fatal errors found in configuration.")
            return Result(None, 1, errors_by_file=errors)
        if checks.run(self.config, self.reporter):
            self.reporter.alert("Fatal errors found in configuration.")
            return Result(None, 1)
        if checks.resolve_servers(self.config, self.reporter):
            return Result(None, 1)
        return Result(self.config, 0)

    # ---- lines -----------------------------------------------------------

    def _line(self, line: Line) -> None:
        head = line.words[0]
        if head in CORE_SECTIONS or head in UNSUPPORTED_SECTIONS:
            self._open_section(line)
            return
        if self._skip_section:
            if self._orphan:
                # HAProxy has no current proxy after a refused header
                self._error(line.where, "'listen' or 'defaults' expected.")
            return
        if not self._section:
            self._error(
                line.where,
                f"parsing [{line.where}]: unknown keyword '{head}' out of section.",
                True,
            )
            return
        prefix = None
        words = line.words
        if head in ("no", "default") and len(words) > 1:
            prefix, words = head, words[1:]
        kw = REGISTRY.get(words[0], self._section == "global")
        if kw is None:
            self._unknown(line.where, words[0])
            return
        if prefix and not kw.negatable:
            self._error(
                line.where,
                f"parsing [{line.where}]: negation/default currently supported only for "
                "options, log, busy-polling, set-dumpable, strict-limits, "
                "insecure-fork-wanted and numa-cpu-mapping.",
                True,
            )
            return
        if not self._allowed(kw, line.where):
            return
        ctx = Context(self, line.where, words, self._section, self._proxy, self._defaults, prefix)
        if self._proxy is not None and kw.cap and not (self._proxy.cap & kw.cap):
            need = "frontend" if kw.cap & FRONTEND else "backend"
            ctx.warn(
                f"'{words[0]}' ignored because {ctx.label} has no {need} capability.{kw.cap_hint}"
            )
            # HAProxy still parses the line (refusing bad arguments) and keeps
            # it: a use_backend in a backend must still name a backend. Only
            # listeners go to a throw-away copy, never to be opened.
            if words[0] == "bind":
                ctx.proxy = copy.deepcopy(self._proxy)
        try:
            kw.parse(ctx)
        except ConfigError as exc:
            self._error(line.where, exc.message, exc.bare)
            return
        if not kw.implemented:
            ctx.pending(" ".join(words[:2]) if words[0] in _FAMILIES else words[0])

    def _allowed(self, kw: Keyword, where: Where) -> bool:
        sec = self._section
        if sec == "global":
            ok = kw.in_global
        elif sec == "defaults":
            ok = kw.in_defaults
            if not ok and kw.in_proxy:
                self._error(where, f"'{kw.name}' not allowed in 'defaults' section.")
                return False
        else:
            ok = kw.in_proxy
        if not ok:
            self._unknown(where, kw.name)
        return ok

    def _unknown(self, where: Where, word: str) -> None:
        from pyhaproxy.config import haproxy_keywords

        sec = self._section
        is_global = sec == "global"
        known = haproxy_keywords.GLOBAL if is_global else haproxy_keywords.PROXY
        if word in known and REGISTRY.get(word, is_global) is None:
            self._error(
                where,
                f"'{word}' is an HAProxy keyword of the '{sec}' section "
                "that pyhaproxy does not support yet.",
            )
            return
        text = f"unknown keyword '{word}' in '{sec}' section"
        candidates = set(REGISTRY.names(is_global)) | set(known)
        if not is_global:
            candidates |= set(PROXY_KINDS) | {"defaults", "global"}
        match = best_match(word, sorted(candidates))
        if match:
            text += f"; did you mean '{match}' maybe ?"
        self._error(where, text)

    # ---- sections --------------------------------------------------------

    def _open_section(self, line: Line) -> None:
        head, where, args = line.words[0], line.where, line.words[1:]
        self._proxy = self._defaults = None
        self._skip_section = self._orphan = False
        self._section = head
        if head in UNSUPPORTED_SECTIONS:
            self._skip_section = True
            self._error(where, f"'{head}' sections are not supported yet by pyhaproxy.")
            return
        if head == "global":
            if self.config.global_.where is None:
                self.config.global_.where = where
            return
        name, parent = self._header(line)
        if name is None:
            self._skip_section = True
            return
        if head == "defaults":
            base = parent.settings if parent else ProxySettings()
            d = Defaults(where, name, copy.deepcopy(base))
            self.config.defaults.append(d)
            self._defaults = self._last_defaults = d
            self.acl_base = len(d.settings.acls)
            return
        if not name:
            self._error(where, f"'{head}' expects <name> as an argument.")
            self._skip_section = True
            return
        ch = invalid_char(name)
        if ch:
            self._error(where, f"character '{ch}' is not permitted in '{head}' name '{name}'.")
            self._skip_section = True
            return
        cap = PROXY_KINDS[head]
        for other in self.config.proxies:
            if other.name == name and other.cap & cap:
                self.reporter.alert(
                    f"Parsing [{where}]: {head} '{name}' has the same name as "
                    f"{other.kind} '{other.name}' declared at {other.where}."
                )
                self.errors[where.file] = self.errors.get(where.file, 0) + 1
                break
        base = parent or self._last_defaults
        if base is not None and not self._may_inherit_rules(base, head, cap, where):
            self.aborted = True
            return
        settings = copy.deepcopy(base.settings) if base else ProxySettings()
        if not cap & FRONTEND:
            settings.default_backend = None  # HAProxy copies it to frontends only
        proxy = Proxy(where, head, name, cap, len(self.config.proxies) + 1, settings)
        self.config.proxies.append(proxy)
        self._proxy = proxy
        self.acl_base = len(settings.acls)
        del args

    def _may_inherit_rules(self, base: Defaults, head: str, cap: int, where: Where) -> bool:
        """HAProxy 2.6 refuses to share a defaults section holding TCP/HTTP
        rules between frontends and backends (and with listens at all)."""
        kinds = {(r.keyword, r.words[1] if len(r.words) > 1 else "") for r in base.settings.rules}
        if not any(kw in _INHERITED_RULES for kw, _ in kinds):
            return True
        at = f"(defaults section at {base.where})"
        if head == "listen":
            text = (
                "a listen section cannot inherit from a defaults section defining TCP/HTTP rules."
            )
        elif cap == BACKEND and kinds & {
            ("tcp-request", "connection"),
            ("tcp-request", "session"),
        }:
            text = (
                "a backend section cannot inherit from a defaults section defining "
                f"'tcp-request connection' or 'tcp-request session' rules {at}."
            )
        else:
            used = self._rules_used_by.setdefault(id(base), 0) | cap
            self._rules_used_by[id(base)] = used
            if used & FRONTEND and used & BACKEND:
                text = (
                    "frontends and backends cannot inherit from the same defaults section "
                    f"if it defines TCP/HTTP rules {at}."
                )
            else:
                return True
        self._error(where, f"parsing [{where}]: {text}", True)
        return False

    def _header(self, line: Line) -> tuple[str | None, Defaults | None]:
        """Name and ``from`` parent of a defaults/proxy section line."""
        head, where = line.words[0], line.where
        args = list(line.words[1:])
        parent = None
        name = ""
        if head != "defaults" and not args:
            self._error(where, f"'{head}' expects an <id> argument")
            self.aborted = True
            return None, None
        if args and args[0] != "from":
            name = args.pop(0)
        if args and args[0] == "from" and (len(args) > 1 or head == "defaults"):
            ref = args[1] if len(args) > 1 else ""
            if not ref:  # "defaults from": no parent, as HAProxy reads it
                return name, None
            matches = [d for d in self.config.defaults if d.name == ref]
            if not matches:
                self._error(where, f"defaults section '{ref}' not found for {head} '{name}'.")
                self.aborted = True
                return None, None
            parent = matches[-1]
            args = args[2:]
        if args and head != "defaults":  # HAProxy ignores more words after defaults
            if head in ("frontend", "listen"):
                self._error(where, "please use the 'bind' keyword for listening addresses.")
            self._orphan = True  # every line of this section will be refused
            return None, None
        return name, parent


def load(paths: Iterable[str], reporter: Reporter, env: Mapping[str, str] | None = None) -> Result:
    """Parse and check a configuration; the verdict is ``Result.status``."""
    return Loader(reporter, env).load(paths)
