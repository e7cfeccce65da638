"""Fixtures of the TLS tests: a PKI generated once per test process, and the
process launchers of the data-plane tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dataplane.conftest import http_servers, launcher, port  # noqa: F401  (fixtures)
from tests.tls.pki import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def pki_dir(pki: Pki) -> Path:
    return pki.root
