"""Sentry: off without SENTRY_DSN; with it, Django errors are reported with the request id."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
import sentry_sdk
from django.conf import settings
from django.test import AsyncClient, Client
from django.urls import reverse
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.transport import Transport

from config.sentry import sentry_init


class CapturingTransport(Transport):
    """Keeps events in memory: the tests never touch the network."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[Any]:
        return [event for env in self.envelopes if (event := env.get_event()) is not None]


@pytest.fixture
def sentry_events() -> Iterator[CapturingTransport]:
    transport = CapturingTransport()
    sentry_init(
        dsn="https://publickey@sentry.invalid/1",
        environment="test",
        release="1.0.0",
        traces_sample_rate=0.0,
        transport=transport,
    )
    yield transport
    sentry_sdk.get_global_scope().set_client(None)


def test_sentry_stays_off_without_a_dsn() -> None:
    assert settings.SENTRY_DSN is None
    assert sentry_sdk.get_client().is_active() is False


def test_sentry_starts_with_the_django_integration(sentry_events: CapturingTransport) -> None:
    client = sentry_sdk.get_client()

    assert client.is_active() is True
    assert client.get_integration(DjangoIntegration) is not None
    assert client.options["data_collection"]["user_info"] is False
    assert client.options["data_collection"]["http_bodies"] == []
    assert client.options["environment"] == "test"


@pytest.mark.urls("tests.api.probe")
def test_unhandled_errors_are_reported_with_the_request_id(
    sentry_events: CapturingTransport,
) -> None:
    response = Client(raise_request_exception=False).get(
        reverse("probe:probe-boom"),
        HTTP_X_REQUEST_ID="sentry-tag-0001",
        HTTP_AUTHORIZATION="Bearer not-for-sentry-0123456789",
    )
    sentry_sdk.flush()

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    [event] = sentry_events.events()
    assert event["tags"]["request_id"] == "sentry-tag-0001"
    assert [value["type"] for value in event["exception"]["values"]] == ["RuntimeError"]
    assert "not-for-sentry-0123456789" not in str(event)


@pytest.mark.urls("tests.api.probe")
async def test_async_errors_are_reported_with_their_own_request_id(
    sentry_events: CapturingTransport,
) -> None:
    client = AsyncClient(raise_request_exception=False)

    await client.get(reverse("probe:probe-boom"), headers={"X-Request-ID": "sentry-async-01"})
    await client.get(reverse("probe:probe-boom"), headers={"X-Request-ID": "sentry-async-02"})
    sentry_sdk.flush()

    assert [e["tags"]["request_id"] for e in sentry_events.events()] == [
        "sentry-async-01",
        "sentry-async-02",
    ]


def _login_that_fails(password: str, refresh_token: str) -> None:
    payload = {"password": password, "token": refresh_token}
    raise RuntimeError(f"login failed for {len(payload)} fields")


def test_events_carry_no_frame_locals(sentry_events: CapturingTransport) -> None:
    # Made at run time: the event's source-context lines must not be what carries them.
    password, refresh_token = secrets.token_hex(16), secrets.token_hex(16)
    try:
        _login_that_fails(password, refresh_token)
    except RuntimeError as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush()

    [event] = sentry_events.events()
    frames = event["exception"]["values"][0]["stacktrace"]["frames"]
    assert [frame["function"] for frame in frames][-1] == "_login_that_fails"
    assert all("vars" not in frame for frame in frames)
    assert password not in str(event)
    assert refresh_token not in str(event)
