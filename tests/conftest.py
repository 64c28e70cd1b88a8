"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[1]
# Only what a subprocess needs to run; DATABASE_URL, REDIS_URL & co. must be passed explicitly.
_PASSED_THROUGH = {"PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR", "VIRTUAL_ENV"}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` in a fresh interpreter with a clean environment plus ``env``."""
    base = {k: v for k, v in os.environ.items() if k in _PASSED_THROUGH}
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


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
