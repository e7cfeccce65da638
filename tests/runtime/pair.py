"""The same configuration run by Debian's haproxy and by pyhaproxy, each with
its own ports and socket directory, for tests that compare CLI answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.dataplane.servers import free_port
from tests.runtime.client import cli, wait_socket


@dataclass
class Side:
    name: str  # "haproxy" or "py"
    dir: Path
    ports: dict[str, int]

    def sock(self, level: str = "admin") -> str:
        return str(self.dir / f"{level}.sock")

    def cli(self, cmd: str, level: str = "admin") -> str:
        return cli(self.sock(level), cmd)


def start_pair(launcher, tmp_path: Path, cfg: str, ports: tuple[str, ...], **fmt) -> list[Side]:
    """Start haproxy then pyhaproxy on ``cfg`` (``{d}``: the socket
    directory, one ``{name}`` per entry of ``ports``: a port of its own)."""
    sides = []
    for name in ("haproxy", "py"):
        d = tmp_path / name
        d.mkdir()
        own = {p: free_port() for p in ports}
        text = cfg.format(d=d, **own, **fmt)
        start = launcher.haproxy if name == "haproxy" else launcher.start
        start(text, wait=[own[p] for p in ports if p.startswith("port")])
        wait_socket(str(d / "admin.sock"))
        sides.append(Side(name, d, own))
    return sides


def same(sides: list[Side], script: list[str], level: str = "admin", mask=None) -> None:
    """Every command of ``script`` gets the same answer from both sides
    (``mask(text, side)`` first, when given)."""
    for cmd in script:
        answers = []
        for side in sides:
            text = side.cli(cmd, level)
            answers.append(mask(text, side) if mask is not None else text)
        assert answers[0] == answers[1], (level, cmd, answers)


def unported(text: str, side: Side) -> str:
    """``text`` with the side's own ports and directory replaced by names."""
    text = text.replace(str(side.dir), "{d}")
    for name, port in side.ports.items():
        text = re.sub(rf"\b{port}\b", f"{{{name}}}", text)
    return text
