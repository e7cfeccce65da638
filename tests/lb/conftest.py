"""Fixtures for the balancing tests (the launcher of tests/dataplane)."""

from tests.dataplane.conftest import launcher  # noqa: F401
