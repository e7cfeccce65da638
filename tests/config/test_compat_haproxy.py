"""`pyhaproxy -c` against Debian's `haproxy -c` on a corpus of configurations.

Each case in ``corpus/`` is a ``*.cfg`` file, or a ``*.d`` directory passed as
one ``-f DIR`` (its header lives in ``DIR/EXPECT``).  The header of a case
records what HAProxy 2.6 answers, so pyhaproxy's verdict is asserted even
where haproxy is not installed::

    # expect: exit=1 alerts=3,7,other.inc:2
    # env: NAME=value with spaces OTHER=x
    # also: extra.inc more.inc

``alerts`` is the set of ``FILE:LINE`` references found in ``[ALERT]`` lines
(``[FILE:LINE]`` or ``(FILE:LINE)``); a bare number refers to the case file
itself.  ``env`` variables are set for both programs, ``also`` files are
passed as further ``-f`` arguments, in order.

When haproxy is installed, a second test runs both programs concurrently and
compares exit status and the alert line references.  To refresh the headers
from haproxy after adding a case: ``python tests/config/test_compat_haproxy.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CORPUS = Path(__file__).with_name("corpus")
HAPROXY = "/usr/sbin/haproxy"
PYHAPROXY = [sys.executable, "-m", "pyhaproxy.cli"]
ENV_PREFIX = "PYH_"  # case variables; removed from the inherited environment

_REF = re.compile(r"[\[(]([^\[\]()\s]+):(\d+)[\])]")
_ENV_ITEM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")


@dataclass
class Case:
    name: str
    target: str  # the first -f argument, relative to CORPUS
    header: Path  # file holding the "# expect:" line
    also: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    exit: int | None = None
    alerts: frozenset[str] | None = None

    def args(self) -> list[str]:
        out = ["-c", "-f", self.target]
        for extra in self.also:
            out += ["-f", extra]
        return out

    def normalise(self, ref: str) -> str:
        """``5`` and ``./case.cfg:5`` → ``case.cfg:5``."""
        if ":" not in ref:
            return f"{Path(self.target).name}:{ref}"
        file, _, line = ref.rpartition(":")
        return f"{Path(file).name}:{line}"


def _parse_env(text: str) -> dict[str, str]:
    items = list(_ENV_ITEM.finditer(text))
    env = {}
    for i, m in enumerate(items):
        end = items[i + 1].start() if i + 1 < len(items) else len(text)
        env[m.group(1)] = text[m.end() : end].strip()
    return env


def _read(path: Path) -> str:
    """Corpus files may hold any bytes (NUL, Latin-1): keep them all."""
    return path.read_bytes().decode("utf-8", "surrogateescape")


def _load_case(path: Path) -> Case:
    if path.is_dir():
        case = Case(path.name, path.name, path / "EXPECT")
    else:
        case = Case(path.name, path.name, path)
    for raw in _read(case.header).splitlines():
        if not raw.startswith("#"):
            break
        key, _, value = raw[1:].strip().partition(":")
        value = value.strip()
        if key == "expect":
            for item in value.split():
                k, _, v = item.partition("=")
                if k == "exit":
                    case.exit = int(v)
                elif k == "alerts":
                    case.alerts = frozenset(case.normalise(r) for r in v.split(",") if r)
            if case.exit is not None and case.alerts is None:
                case.alerts = frozenset()
        elif key == "env":
            case.env = _parse_env(value)
        elif key == "also":
            case.also = value.split()
    return case


def _cases() -> list[Case]:
    found = sorted(
        p for p in CORPUS.iterdir() if p.suffix == ".cfg" or (p.is_dir() and p.suffix == ".d")
    )
    return [_load_case(p) for p in found]


CASES = _cases()


@dataclass(frozen=True)
class Outcome:
    exit: int
    alerts: frozenset[str]
    stderr: str

    def show(self) -> str:
        return f"exit={self.exit} alerts={sorted(self.alerts)}\n{self.stderr}"


def _environ(case: Case) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(case.env)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _start(cmd: list[str], case: Case) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd + case.args(),
        cwd=CORPUS,
        env=_environ(case),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )


def _finish(proc: subprocess.Popen[str], case: Case) -> Outcome:
    _, err = proc.communicate(timeout=30)
    refs = set()
    for line in err.splitlines():
        if line.startswith("[ALERT]"):
            refs.update(case.normalise(f"{f}:{n}") for f, n in _REF.findall(line))
    return Outcome(proc.returncode, frozenset(refs), err)


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 45
    missing = [c.name for c in CASES if c.exit is None]
    assert not missing, f"cases without an '# expect:' header: {missing}"


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_pyhaproxy_matches_recorded(case: Case) -> None:
    """pyhaproxy gives the verdict and alert lines HAProxy 2.6 gave."""
    got = _finish(_start(PYHAPROXY, case), case)
    assert "Traceback" not in got.stderr, got.stderr
    assert (got.exit, got.alerts) == (case.exit, case.alerts), got.show()


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_pyhaproxy_matches_haproxy(case: Case) -> None:
    """Same verdict and same alert lines as the installed haproxy."""
    if not os.access(HAPROXY, os.X_OK):
        pytest.skip(f"{HAPROXY} is not installed: comparison with HAProxy skipped")
    ref_proc = _start([HAPROXY], case)
    our_proc = _start(PYHAPROXY, case)
    ref, ours = _finish(ref_proc, case), _finish(our_proc, case)
    assert (ours.exit, ours.alerts) == (ref.exit, ref.alerts), (
        f"haproxy: {ref.show()}\npyhaproxy: {ours.show()}"
    )


def _record() -> None:
    """Rewrite every case's ``# expect:`` line from haproxy's answer."""
    for case in CASES:
        got = _finish(_start([HAPROXY], case), case)
        own = Path(case.target).name
        refs = sorted(
            got.alerts,
            key=lambda r: (
                r.rpartition(":")[0] != own,
                r.rpartition(":")[0],
                int(r.split(":")[-1]),
            ),
        )
        shown = ",".join(r.rpartition(":")[2] if r.startswith(own + ":") else r for r in refs)
        line = f"# expect: exit={got.exit}" + (f" alerts={shown}" if shown else "")
        lines = _read(case.header).split("\n")
        lines[0] = line
        case.header.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
        print(f"{case.name:40} {line}")


if __name__ == "__main__":
    _record()
