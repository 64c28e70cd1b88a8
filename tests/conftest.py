"""Fixtures shared by the whole suite, by area in ``tests/fixtures/`` (listed below), and the
rule for tests whose service is missing."""

from __future__ import annotations

import pytest
from django.conf import settings

pytest_plugins = [
    "tests.fixtures.asgi",
    "tests.fixtures.bolt",
    "tests.fixtures.chat",
    "tests.fixtures.database",
    "tests.fixtures.http",
    "tests.fixtures.logs",
    "tests.fixtures.mail",
    "tests.fixtures.providers",
    "tests.fixtures.taste",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--contract-examples",
        type=int,
        default=3,
        help="Examples per operation in the schemathesis run (tests/api/test_schemathesis.py).",
    )


def require_service(name: str, reason: str) -> None:
    """A test that needs an unavailable service fails in CI and skips elsewhere, saying why."""
    message = f"{name} unavailable: {reason}"
    if settings.CI:
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)
