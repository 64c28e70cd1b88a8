"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from musicbud.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory


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


@pytest.fixture
def login(client: Client) -> Callable[..., dict[str, Any]]:
    """Log ``user`` in through the API and return the token pair body."""

    def _login(user: User, *, password: str = DEFAULT_PASSWORD, **extra: Any) -> dict[str, Any]:
        response = client.post(
            reverse("api-v1:auth-login"),
            {"username": user.username, "password": password, **extra},
            content_type="application/json",
        )
        assert response.status_code == HTTPStatus.OK, response.content
        body: dict[str, Any] = response.json()
        return body

    return _login


def bearer(token: str) -> dict[str, str]:
    """Request headers carrying ``token`` (for Client/AsyncClient ``headers=``)."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def hop_counter(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """Every function run through asgiref's SyncToAsync (a thread hop), in call order."""
    calls: list[Callable[..., Any]] = []
    original = SyncToAsync.__call__

    async def counting(self: SyncToAsync[Any, Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(self.func)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting)
    return calls
