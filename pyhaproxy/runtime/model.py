"""What the ``stats`` global keywords configure: plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyhaproxy.config.model import Address, Config
    from pyhaproxy.messages import Where

EXTRA_KEY = "cli"  # Global.extra key holding the CliSettings


@dataclass(slots=True)
class CliSocket:
    where: Where
    address: Address
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CliSettings:
    sockets: list[CliSocket] = field(default_factory=list)
    timeout: int = 10000  # ms, "stats timeout"
    maxconn: int = 10  # "stats maxconn"


def cli_settings(config: Config) -> CliSettings | None:
    return config.global_.extra.get(EXTRA_KEY)
