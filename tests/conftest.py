"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.factories import UserFactory


def require_service(name: str, reason: str) -> None:
    """A test that needs an unavailable service fails in CI and skips elsewhere, saying why."""
    message = f"{name} unavailable: {reason}"
    if settings.CI:
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db: None) -> object:
    return UserFactory()
