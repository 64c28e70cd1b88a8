"""Fixtures of the chat tests: signed-in clients, channels, and sockets."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from musicbud.models import User
from tests.factories import UserFactory


@pytest.fixture
def people(db: None) -> dict[str, User]:
    """ana, ben, cat and dan, active."""
    return {name: UserFactory.create(username=name) for name in ("ana", "ben", "cat", "dan")}


@pytest.fixture
def client_as() -> Callable[[User], Client]:
    """A test client signed in (session) as the given user."""
    clients: dict[int, Client] = {}

    def _client(user: User) -> Client:
        if user.pk not in clients:
            clients[user.pk] = Client()
            clients[user.pk].force_login(user)
        return clients[user.pk]

    return _client


@pytest.fixture
def make_channel(client_as: Callable[[User], Client]) -> Callable[..., dict[str, Any]]:
    """Create a channel through the API as ``owner``; returns the body."""

    def _make(owner: User, name: str = "jazz", visibility: str = "public") -> dict[str, Any]:
        response = client_as(owner).post(
            reverse("api-v1:chat-channels"),
            {"name": name, "description": f"All about {name}", "visibility": visibility},
            content_type="application/json",
        )
        assert response.status_code == HTTPStatus.CREATED, response.content
        body: dict[str, Any] = response.json()
        return body

    return _make
