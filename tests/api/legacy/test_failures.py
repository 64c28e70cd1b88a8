"""A failing legacy route still answers in the legacy form: a bug's 500, an outage's 503."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.test import AsyncClient, Client, override_settings
from django.urls import reverse
from prometheus_client import REGISTRY

from musicbud.cache import close_redis_clients
from musicbud.models import User
from musicbud.selectors import taste
from tests.api.legacy.conftest import DART_AGENT, LegacyWorld
from tests.fixtures.http import assert_envelope

pytestmark = pytest.mark.django_db

LIKED_TRACKS = "/v1/me/liked/tracks/"
DEPRECATION = "@1796083200"
SUNSET = "Wed, 30 Jun 2027 00:00:00 GMT"
LIKES_SUCCESSOR = '</api/v1/me/likes/tracks>; rel="successor-version"'
# Nothing listens there: every connection is refused at once.
DEAD_REDIS = "redis://127.0.0.1:1/0"


class Kaboom(RuntimeError):
    """A bug in the work a legacy route does."""


def _failing_edges(exc: Exception) -> Any:
    def edges(**_: Any) -> Any:
        raise exc

    return edges


@pytest.fixture
def broken_taste_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The taste selectors' query fails with a bug."""
    monkeypatch.setattr(taste, "_edges", _failing_edges(Kaboom("kaboom with password=hunter2")))


def _database_gone() -> OperationalError:
    # What Django raises when psycopg cannot reach the server (no SQLSTATE).
    exc = OperationalError("connection refused")
    exc.__cause__ = psycopg.OperationalError("connection refused")
    return exc


def _unhandled(route: str) -> float:
    labels = {"route": route, "method": "GET"}
    return REGISTRY.get_sample_value("musicbud_http_unhandled_errors_total", labels) or 0.0


def _legacy_count(route: str, status: int) -> float:
    labels = {"route": route, "client": "dart", "status": str(status)}
    return REGISTRY.get_sample_value("musicbud_legacy_requests_total", labels) or 0.0


def _assert_legacy(response: Any, status: int, code: str, message: str) -> None:
    """The legacy form: the envelope plus ``"success": false``, and the deprecation headers."""
    assert_envelope(response, status, code, message, extra={"success": False})
    assert response["Deprecation"] == DEPRECATION
    assert response["Sunset"] == SUNSET


def test_an_unhandled_error_is_a_legacy_500_handled_as_django_handles_it(
    legacy: LegacyWorld, broken_taste_reads: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Handled as Django handles a failure: the ``got_request_exception`` signal (the
    unhandled-error metric), the error log, ``handler500``; then made legacy."""
    caplog.set_level(logging.ERROR, logger="django.request")
    unhandled_before = _unhandled(LIKED_TRACKS)
    counted_before = _legacy_count("me/liked/tracks", HTTPStatus.INTERNAL_SERVER_ERROR)
    legacy.client = Client(raise_request_exception=False)

    response = legacy.call("GET", LIKED_TRACKS, headers={"X-Request-ID": "legacy-trace-1234"})

    _assert_legacy(
        response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error", "Internal server error"
    )
    assert response["Link"] == LIKES_SUCCESSOR
    assert response["X-Request-ID"] == "legacy-trace-1234"
    assert "kaboom" not in response.content.decode()
    # Django's handling still ran: the signal (the project's metric) and the error log.
    assert _unhandled(LIKED_TRACKS) == unhandled_before + 1
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == f"Internal Server Error: {LIKED_TRACKS}"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], Kaboom)
    assert record.request_id == "legacy-trace-1234"  # type: ignore[attr-defined]
    assert _legacy_count("me/liked/tracks", HTTPStatus.INTERNAL_SERVER_ERROR) == (
        counted_before + 1
    )


def test_the_test_client_still_sees_the_exception(
    legacy: LegacyWorld, broken_taste_reads: None
) -> None:
    # Django's test client re-raises what got_request_exception reported: it was sent.
    with pytest.raises(Kaboom, match="kaboom"):
        legacy.call("POST", "/me/liked/tracks")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_an_unhandled_error_is_a_legacy_500_on_the_async_path(
    legacy: LegacyWorld, broken_taste_reads: None
) -> None:
    unhandled_before = _unhandled("/me/liked/tracks")
    client = AsyncClient(raise_request_exception=False)

    response = await client.get("/me/liked/tracks", headers=legacy.headers)

    _assert_legacy(
        response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error", "Internal server error"
    )
    assert response["Link"] == LIKES_SUCCESSOR
    assert _unhandled("/me/liked/tracks") == unhandled_before + 1


@override_settings(DEBUG=True)
def test_in_debug_the_500_is_still_the_legacy_envelope_not_the_debug_page(
    legacy: LegacyWorld, broken_taste_reads: None
) -> None:
    legacy.client = Client(raise_request_exception=False)

    response = legacy.call("GET", LIKED_TRACKS)

    _assert_legacy(
        response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error", "Internal server error"
    )
    assert "hunter2" not in response.content.decode()


def test_an_unreachable_database_is_a_legacy_503_to_retry(
    legacy: LegacyWorld, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(taste, "_edges", _failing_edges(_database_gone()))
    caplog.set_level(logging.WARNING, logger="api.errors")
    unhandled_before = _unhandled(LIKED_TRACKS)

    response = legacy.call("GET", LIKED_TRACKS)

    _assert_legacy(
        response,
        HTTPStatus.SERVICE_UNAVAILABLE,
        "service_unavailable",
        "A backing service is unavailable; try again shortly",
    )
    assert response["Retry-After"] == "5"
    assert response["Link"] == LIKES_SUCCESSOR
    # An outage is not a bug: no unhandled error counted, one warning logged.
    assert _unhandled(LIKED_TRACKS) == unhandled_before
    assert [r.getMessage() for r in caplog.records if r.name == "api.errors"] == [
        "backing service unavailable: OperationalError"
    ]


@pytest.fixture
async def dead_redis() -> AsyncIterator[None]:
    await close_redis_clients()
    with override_settings(REDIS_URL=DEAD_REDIS):
        yield
        await close_redis_clients()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_a_redis_outage_is_a_legacy_503_to_retry(
    legacy: LegacyWorld, dead_redis: None
) -> None:
    client = AsyncClient(raise_request_exception=False)

    response = await client.get("/me/profile", headers={**legacy.headers, "User-Agent": DART_AGENT})

    _assert_legacy(
        response,
        HTTPStatus.SERVICE_UNAVAILABLE,
        "service_unavailable",
        "A backing service is unavailable; try again shortly",
    )
    assert response["Retry-After"] == "5"
    assert response["Link"] == '</api/v1/me/profile>; rel="successor-version"'


# --- refused at the door, before the view runs ------------------------------------------------


@override_settings(MAX_REQUEST_BODY_BYTES=1000)
def test_a_body_over_the_limit_is_a_legacy_413(legacy: LegacyWorld) -> None:
    counted_before = _legacy_count("login", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    response = legacy.call("POST", "/v1/login/", {"username": "x" * 2000, "password": "y"})

    _assert_legacy(
        response,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "request_too_large",
        "Request body is larger than 1000 bytes",
    )
    assert response["Link"] == '</api/v1/auth/login>; rel="successor-version"'
    assert _legacy_count("login", HTTPStatus.REQUEST_ENTITY_TOO_LARGE) == counted_before + 1


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_a_body_django_refuses_to_read_is_a_legacy_413(legacy: LegacyWorld) -> None:
    # Under the door's limit but over Django's: RequestDataTooBig once the view reads it.
    legacy.client = Client(raise_request_exception=False)

    response = legacy.call("POST", "/login", {"username": "x" * 200, "password": "y"})

    _assert_legacy(
        response,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "request_too_large",
        "Request body is too large",
    )


def test_a_nul_character_is_a_legacy_400(legacy: LegacyWorld) -> None:
    response = legacy.call("GET", "/bud/search", {"q": "a\x00b"})

    _assert_legacy(
        response,
        HTTPStatus.BAD_REQUEST,
        "bad_request",
        "NUL characters are not allowed in the path, query or body",
    )
    assert response["Link"] == '</api/v1/users/search>; rel="successor-version"'


def test_a_refusal_at_the_door_of_another_url_stays_as_it_was(client: Client) -> None:
    response = client.get("/api/v1/users/search", {"q": "a\x00b"})

    assert_envelope(response, HTTPStatus.BAD_REQUEST, "bad_request")
    assert "Deprecation" not in response


# Bodies no client sends, refused at the one door every API shares (the v1 API's).
NUL_MESSAGE = "NUL characters are not allowed in the path, query or body"
UNPARSABLE = "Cannot parse request body"
DEEP_JSON = '{"username": ' + "[" * 1000 + "]" * 1000 + ', "password": "x"}'
HOSTILE_BODIES = [
    pytest.param(
        "application/json",
        '{"username": "a\\u0000b", "password": "x"}',
        NUL_MESSAGE,
        id="json-u0000",
    ),
    pytest.param(
        "application/x-www-form-urlencoded", "username=a%00b&password=x", NUL_MESSAGE, id="form-%00"
    ),
    pytest.param("application/json", DEEP_JSON, UNPARSABLE, id="json-1000-deep"),
]
UNAUTHENTICATED = [
    "/login/",
    "/v1/login",
    "/register/",
    "/v1/register",
    "/token/refresh",
    "/v1/token/refresh/",
]


@pytest.mark.parametrize(("content_type", "body", "message"), HOSTILE_BODIES)
@pytest.mark.parametrize("path", UNAUTHENTICATED)
def test_a_body_the_api_refuses_is_a_legacy_400_on_every_route(
    path: str, content_type: str, body: str, message: str
) -> None:
    client = Client(raise_request_exception=False)

    response = client.post(path, body, content_type=content_type, HTTP_USER_AGENT=DART_AGENT)

    _assert_legacy(response, HTTPStatus.BAD_REQUEST, "bad_request", message)
    assert User.objects.count() == 0


@pytest.mark.parametrize(("content_type", "body", "message"), HOSTILE_BODIES)
def test_a_body_the_api_refuses_is_a_legacy_400_behind_authentication(
    legacy: LegacyWorld, content_type: str, body: str, message: str
) -> None:
    legacy.client = Client(raise_request_exception=False)
    me = legacy.world.me
    bio = body.replace("username", "bio")

    response = legacy.client.post(
        "/v1/me/profile/set/", bio, content_type=content_type, headers=legacy.headers
    )

    _assert_legacy(response, HTTPStatus.BAD_REQUEST, "bad_request", message)
    me.refresh_from_db()
    assert me.bio == ""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"username": "a\\u0000b", "password": "x"}', NUL_MESSAGE),
        (DEEP_JSON, UNPARSABLE),
    ],
    ids=["json-u0000", "json-1000-deep"],
)
def test_v1_refuses_the_same_bodies_with_the_same_answer(body: str, message: str) -> None:
    client = Client(raise_request_exception=False)

    response = client.post(reverse("api-v1:auth-login"), body, content_type="application/json")

    assert_envelope(response, HTTPStatus.BAD_REQUEST, "bad_request", message)


def test_a_photo_sent_along_a_multipart_profile_may_hold_any_byte(legacy: LegacyWorld) -> None:
    # The app sends a photo with its profile form; only the form's text fields are stored.
    photo = SimpleUploadedFile("me.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "image/jpeg")

    response = legacy.client.post(
        "/v1/me/profile/set/", {"bio": "jazz", "photo": photo}, headers=legacy.headers
    )

    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["bio"] == "jazz"


def test_a_nul_in_a_multipart_field_is_a_legacy_400(legacy: LegacyWorld) -> None:
    photo = SimpleUploadedFile("me.jpg", b"\xff\xd8", "image/jpeg")

    response = legacy.client.post(
        "/v1/me/profile/set/", {"bio": "ja\x00zz", "photo": photo}, headers=legacy.headers
    )

    _assert_legacy(response, HTTPStatus.BAD_REQUEST, "bad_request", NUL_MESSAGE)
    legacy.world.me.refresh_from_db()
    assert legacy.world.me.bio == ""
