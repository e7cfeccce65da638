"""The configuration model: plain dataclasses, no behaviour.

What the keyword parsers fill in and the runtime builder reads.  Times are in
milliseconds (None: not set), sizes in bytes.  ``Where`` fields point back at
the line that set a value, for messages raised after parsing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyhaproxy.messages import Where

FRONTEND = 1  # proxy capability bits, as HAProxy's PR_CAP_FE / PR_CAP_BE
BACKEND = 2
LISTEN = FRONTEND | BACKEND


@dataclass(slots=True)
class Used:
    """A keyword occurrence whose behaviour pyhaproxy does not have yet."""

    where: Where
    keyword: str


@dataclass(slots=True)
class Address:
    """A parsed listening or server address (``bind``, ``server``)."""

    family: str  # "ipv4", "ipv6", "unix", "fd", "abns"
    host: str  # address or path; "" for any address
    port_low: int = 0
    port_high: int = 0
    port_offset: bool = False  # "+N" / "-N" server port mapping
    text: str = ""

    @property
    def port(self) -> int:
        return self.port_low


@dataclass(slots=True)
class Bind:
    where: Where
    addresses: list[Address]
    options: dict[str, Any] = field(default_factory=dict)
    tls: Any = None  # pyhaproxy.tls.BindTLS when the line has TLS options


@dataclass(slots=True)
class Server:
    where: Where
    name: str
    address: Address | None
    options: dict[str, Any] = field(default_factory=dict)
    backend: str = ""
    tls: Any = None  # pyhaproxy.tls.ServerTLS for an "ssl" server


@dataclass(slots=True)
class Rule:
    """A rule line kept with its words until the rule engine compiles it."""

    where: Where
    keyword: str
    words: tuple[str, ...]
    compiled: Any = None  # set by the sample engine when the line is read


@dataclass(slots=True)
class Acl:
    where: Where
    name: str
    words: tuple[str, ...]
    compiled: Any = None  # set by the sample engine when the line is read


@dataclass(slots=True)
class SwitchingRule:
    where: Where
    backend: str
    condition: tuple[str, ...]  # "if"/"unless" followed by the condition words
    compiled: Any = None  # set by the sample engine when the line is read


@dataclass(slots=True)
class LogTarget:
    where: Where
    words: tuple[str, ...]
    is_global: bool = False


@dataclass(slots=True)
class ProxySettings:
    """Everything a `defaults` section can give a proxy (copied on creation)."""

    mode: str = "tcp"
    maxconn: int | None = None
    fullconn: int | None = None
    retries: int | None = None
    balance: tuple[str, ...] | None = None
    hash_type: tuple[str, ...] | None = None
    timeouts: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # name → True/False/args
    logs: list[LogTarget] = field(default_factory=list)
    no_log: bool = False
    log_format: str | None = None
    default_server: dict[str, Any] = field(default_factory=dict)
    default_backend: tuple[str, Where] | None = None
    errorfiles: dict[int, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # keywords kept verbatim
    acls: list[Acl] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    used: list[Used] = field(default_factory=list)


@dataclass(slots=True)
class Defaults:
    where: Where
    name: str  # "" for an anonymous section
    settings: ProxySettings = field(default_factory=ProxySettings)


@dataclass(slots=True)
class Proxy:
    """A `frontend`, `backend` or `listen` section."""

    where: Where
    kind: str  # "frontend" | "backend" | "listen"
    name: str
    cap: int
    uuid: int
    settings: ProxySettings
    binds: list[Bind] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)
    switching_rules: list[SwitchingRule] = field(default_factory=list)
    disabled: bool = False

    @property
    def mode(self) -> str:
        return self.settings.mode


@dataclass(slots=True)
class Global:
    where: Where | None = None
    daemon: bool = False
    master_worker: bool = False
    maxconn: int | None = None
    nbthread: int | None = None
    pidfile: str | None = None
    user: str | None = None
    group: str | None = None
    uid: int | None = None
    gid: int | None = None
    chroot: str | None = None
    ulimit_n: int | None = None
    hard_stop_after: int | None = None
    logs: list[LogTarget] = field(default_factory=list)
    tune: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    set_by: dict[str, Where] = field(default_factory=dict)
    used: list[Used] = field(default_factory=list)


@dataclass(slots=True)
class Config:
    """A whole configuration after parsing and checks."""

    files: list[str]
    global_: Global = field(default_factory=Global)
    defaults: list[Defaults] = field(default_factory=list)
    proxies: list[Proxy] = field(default_factory=list)

    def proxy(self, name: str, cap: int = 0) -> Proxy | None:
        for p in self.proxies:
            if p.name == name and (not cap or p.cap & cap):
                return p
        return None

    def unimplemented(self) -> list[Used]:
        """Keywords present in the configuration whose behaviour is missing."""
        found = list(self.global_.used)
        for p in self.proxies:
            found.extend(p.settings.used)
        return sorted(found, key=lambda u: (u.where.file, u.where.line))
