"""Shared test helpers: run the real `pyhaproxy` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYHAPROXY = [sys.executable, "-m", "pyhaproxy"]


def run_pyhaproxy(
    *args: str, env: dict | None = None, cwd: str | Path | None = None, timeout: float = 30
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PYHAPROXY, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )
