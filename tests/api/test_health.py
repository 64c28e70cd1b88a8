"""Liveness touches nothing; readiness reports every component."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from http import HTTPStatus

import pytest
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from tests.conftest import require_service
from tooling.ports import free_port


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


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a hung Redis)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.mark.django_db
def test_ready_is_503_when_the_cache_is_down(client: Client) -> None:
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/1"):
        response = client.get(reverse("health-ready"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    envelope = response.json()
    assert envelope["error"] is True
    assert envelope["status_code"] == HTTPStatus.SERVICE_UNAVAILABLE
    # The error envelope keeps readiness's own component report as its details.
    body = envelope["details"]
    assert body["status"] == "unavailable"
    cache = body["components"]["cache"]
    assert cache["status"] == "down"
    assert cache["error"] == "ConnectionError"
    assert isinstance(cache["latency_ms"], float)
    # The other components are still reported, and up.
    assert body["components"]["database"]["status"] == "up"
    assert body["components"]["graph"]["status"] == "up"


@pytest.mark.django_db
def test_ready_gives_up_on_a_hung_component_after_the_timeout(
    client: Client, silent_server: int
) -> None:
    with override_settings(
        REDIS_URL=f"redis://127.0.0.1:{silent_server}/1", HEALTH_CHECK_TIMEOUT_SECONDS=0.3
    ):
        started = time.perf_counter()
        response = client.get(reverse("health-ready"))
        elapsed = time.perf_counter() - started

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    cache = response.json()["details"]["components"]["cache"]
    assert cache == {"status": "down", "error": "timed out", "latency_ms": cache["latency_ms"]}
    assert 300 <= cache["latency_ms"] < 1000
    # The components are checked concurrently; the whole answer waits for one timeout only.
    assert elapsed < 1.5


@pytest.mark.django_db
def test_ready_reports_redis_up_when_it_is_configured(client: Client) -> None:
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is not set")

    response = client.get(reverse("health-ready"))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["components"]["cache"]["backend"] == "redis"
