"""Liveness touches nothing; readiness reports every component."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse


def test_live_is_ok_without_touching_the_database(client: Client) -> None:
    # No django_db mark: any database access in the view would raise.
    response = client.get(reverse("health-live"))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_reports_each_component(client: Client) -> None:
    response = client.get(reverse("health-ready"))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["components"]) == {"database", "cache", "graph"}
    for component in body["components"].values():
        assert component["status"] == "up"
        assert isinstance(component["latency_ms"], float)


def test_live_rejects_post(client: Client) -> None:
    response = client.post(reverse("health-live"))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
