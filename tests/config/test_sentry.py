"""Sentry: off without SENTRY_DSN; with it, Django errors are reported with the request id."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

import pytest
import sentry_sdk
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.test import AsyncClient, Client
from django.urls import reverse
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.transport import Transport

from config.asgi import build_application
from config.sentry import sentry_init
from fastpath.lane import forget_templates
from tests.api.test_hot_paths import bearer_headers
from tests.conftest import require_service
from tests.fixtures.asgi import (
    HopRecorder,
    asgi_request,
    fast_path_only,
    http_scope,
    live_requests,
)


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


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.api.probe")
async def test_the_served_application_gives_each_request_a_scope_of_its_own(
    sentry_events: CapturingTransport, count_sync_hops: HopRecorder
) -> None:
    # The Django integration opens a request's scope in ASGIHandler.__call__, which the
    # hop-free handler overrides; without a scope of its own, each request left its event
    # processor (holding the request) on the process-wide scope: kept alive (up to 21, until
    # the SDK clears the list) and applied to later events.
    app = build_application()
    try:
        # The first request starts what lives on (the shared Redis connection's reader task,
        # the loop's default executor threads), which may hold what was current then.
        await asgi_request(app, reverse("health-live"))
        # Collected first: Django's stock handler (FAST_PATH off) leaves each request as
        # cyclic garbage, which is not what this counts.
        gc.collect()
        live_before = live_requests()
        for number in range(5):
            response = await asgi_request(
                app, reverse("health-live"), headers=[("X-Request-ID", f"sentry-ok-{number}")]
            )
            assert response.status == HTTPStatus.OK
        del response
        gc.collect()
        assert live_requests() == live_before
        if settings.FAST_PATH:
            # The SDK leaves the request signals' receivers alone (they are loop-safe), so
            # Sentry does not send a request through a thread that did not need one.
            assert count_sync_hops.thread_sensitive == []

        failed = await asgi_request(
            app, reverse("probe:probe-boom"), headers=[("X-Request-ID", "sentry-boom-01")]
        )
    finally:
        for hook in app.before_shutdown:
            await hook()
        await sync_to_async(connections.close_all, thread_sensitive=True)()
    sentry_sdk.capture_message("outside any request")
    sentry_sdk.flush()

    assert failed.status == HTTPStatus.INTERNAL_SERVER_ERROR
    [error, outside] = sentry_events.events()
    assert error["tags"]["request_id"] == "sentry-boom-01"
    assert error["request"]["url"] == f"http://testserver{reverse('probe:probe-boom')}"
    assert [value["type"] for value in error["exception"]["values"]] == ["RuntimeError"]
    # Nothing of the requests was left on the process-wide scope.
    assert outside["message"] == "outside any request"
    assert "request_id" not in outside.get("tags", {})
    assert "request" not in outside


@fast_path_only
@pytest.mark.django_db(transaction=True)
async def test_with_sentry_on_warm_reads_still_take_the_lane_and_are_tagged(
    sentry_events: CapturingTransport, count_redis_commands: list[str], settings: Any
) -> None:
    # The lane once stood aside whenever Sentry was on (only the full path tagged the
    # request's scope): a deployment with SENTRY_DSN served its cached reads at the stock
    # path's speed. It now tags the scope itself, so an error while it answers names the
    # request as the full path's would.
    if not settings.REDIS_URL:
        require_service("redis", "REDIS_URL is not set")
    forget_templates()
    app = build_application()
    url = reverse("api-v1:my-profile")
    try:
        token = await bearer_headers(app)
        for _ in range(3):  # the cache filled, the shape seen to reach the view, learned
            assert (await asgi_request(app, url, headers=token)).status == HTTPStatus.OK
        count_redis_commands.clear()

        served = await asgi_request(app, url, headers=[*token, ("x-request-id", "lane-ok-01")])
        assert served.status == HTTPStatus.OK
        assert count_redis_commands == ["EVALSHA"]  # the lane's one round trip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def client_gone(message: Mapping[str, Any]) -> None:
            raise ConnectionResetError("the client went away")

        scope = http_scope(url, headers=[*token, ("x-request-id", "lane-gone-01")])
        with pytest.raises(ConnectionResetError):
            await app(scope, receive, client_gone)
    finally:
        for hook in app.before_shutdown:
            await hook()
        await sync_to_async(connections.close_all, thread_sensitive=True)()
    sentry_sdk.flush()

    [event] = sentry_events.events()
    assert event["tags"]["request_id"] == "lane-gone-01"
    assert [value["type"] for value in event["exception"]["values"]] == ["ConnectionResetError"]


def test_the_access_log_leaves_no_breadcrumbs(sentry_events: CapturingTransport) -> None:
    # One per request, on every request: the event already carries its request.
    loggers = [logging.getLogger("musicbud.access"), logging.getLogger("musicbud.elsewhere")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.INFO)
        with sentry_sdk.isolation_scope():
            loggers[0].info("GET /api/v1/me/profile 200")
            loggers[1].info("a step worth a breadcrumb")
            sentry_sdk.capture_message("probe")
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    sentry_sdk.flush()

    [event] = sentry_events.events()
    crumbs = [crumb.get("message") for crumb in event["breadcrumbs"]["values"]]
    assert "a step worth a breadcrumb" in crumbs
    assert "GET /api/v1/me/profile 200" not in crumbs
