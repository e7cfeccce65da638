"""Fixtures for runtime API tests: the dataplane launcher and a CLI client."""

from __future__ import annotations

from tests.dataplane.conftest import http_servers, launcher, port  # noqa: F401
