"""Every error from every URL is the one envelope, through Django's full request path."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from http import HTTPStatus
from typing import Any

import pytest
from django.conf import settings
from django.test import AsyncClient, Client, override_settings
from django.urls import reverse
from django.views.debug import ExceptionReporter

from api.errors import domain_error_response
from musicbud.errors import ServiceUnavailable
from musicbud.models import User
from tests.factories import UserFactory
from tests.fixtures.http import assert_envelope

pytestmark = pytest.mark.urls("tests.api.probe")

ITEMS = "probe:probe-items"
EXPLODING = "tests.api.probe.ExplodingMiddleware"


def test_unknown_url_is_a_404_envelope(client: Client) -> None:
    response = client.get("/no/such/page")

    assert_envelope(response, HTTPStatus.NOT_FOUND, "not_found", "Not found")


async def test_unknown_url_is_a_404_envelope_on_the_async_path(async_client: AsyncClient):
    response = await async_client.get("/api/v1/nothing-here")

    assert_envelope(response, HTTPStatus.NOT_FOUND, "not_found", "Not found")


@override_settings(DEBUG=True)
def test_unknown_url_is_an_envelope_even_in_debug(client: Client) -> None:
    response = client.get("/no/such/page")

    assert_envelope(response, HTTPStatus.NOT_FOUND, "not_found")


def test_wrong_method_on_a_django_view_is_a_405_envelope(client: Client) -> None:
    response = client.post(reverse("health-live"))

    assert_envelope(response, HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed")
    assert response["Allow"] == "GET"


def test_wrong_method_on_an_api_operation_is_a_405_envelope(client: Client) -> None:
    response = client.delete(reverse("probe:probe-async"))

    assert_envelope(response, HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed")
    assert response["Allow"] == "GET"


@override_settings(MAX_REQUEST_BODY_BYTES=1000)
def test_declared_body_over_the_limit_is_a_413_envelope(client: Client) -> None:
    body = json.dumps({"name": "x" * 2000, "count": 1})

    response = client.post(reverse(ITEMS), body, content_type="application/json")

    assert_envelope(
        response,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "request_too_large",
        "Request body is larger than 1000 bytes",
    )


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_body_django_refuses_to_read_is_a_413_envelope(client: Client) -> None:
    # Under our limit but over Django's: Django raises RequestDataTooBig when it is read.
    body = json.dumps({"name": "x" * 15, "count": 1, "password": "y" * 100})

    response = client.post(reverse(ITEMS), body, content_type="application/json")

    assert_envelope(response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request_too_large")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_non_json_body_to_the_api_is_a_415_envelope(client: Client, content_type: str) -> None:
    response = client.post(reverse(ITEMS), "name=a&count=1", content_type=content_type)

    assert_envelope(response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")


def test_json_suffix_media_types_are_accepted(client: Client) -> None:
    body = json.dumps({"name": "a", "count": 1})

    response = client.post(reverse(ITEMS), body, content_type="application/merge-patch+json")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"name": "a", "count": 1}


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "a", "count": ',  # truncated
        b'{"name": "\xff\xfe"}',  # not UTF-8 (a NUL byte would be refused before parsing)
        b"[" * 100_000 + b"]" * 100_000,  # nested past the parser's recursion limit
    ],
    ids=["malformed", "invalid-utf8", "deeply-nested"],
)
async def test_unparseable_json_is_a_400_envelope(async_client: AsyncClient, body: bytes) -> None:
    response = await async_client.post(reverse(ITEMS), body, content_type="application/json")

    assert_envelope(response, HTTPStatus.BAD_REQUEST, "bad_request", "Cannot parse request body")


def test_validation_errors_are_a_422_envelope_listing_each_field(client: Client) -> None:
    body = json.dumps({"name": "", "count": -1})

    response = client.post(reverse(ITEMS), body, content_type="application/json")

    envelope = assert_envelope(
        response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", "Validation failed"
    )
    assert [(d["field"], d["type"]) for d in envelope["details"]] == [
        ("body.name", "string_too_short"),
        ("body.count", "greater_than_equal"),
    ]


def test_missing_authentication_is_a_401_envelope(client: Client) -> None:
    response = client.get(reverse("probe:probe-private"))

    assert_envelope(response, HTTPStatus.UNAUTHORIZED, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
def test_authenticated_request_passes(client: Client) -> None:
    user = UserFactory.create()
    client.force_login(user)

    response = client.get(reverse("probe:probe-private"))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"user_id": user.pk}


def test_domain_permission_error_is_a_403_envelope(client: Client) -> None:
    response = client.get(reverse("probe:probe-forbidden"))

    assert_envelope(
        response, HTTPStatus.FORBIDDEN, "permission_denied", "Needs musicbud.view_stats"
    )


def test_django_permission_denied_is_a_403_envelope(client: Client, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="django.request")

    response = client.get(reverse("probe:probe-django-forbidden"))

    assert_envelope(response, HTTPStatus.FORBIDDEN, "permission_denied", "Permission denied")
    # Django logs it once handler403 has answered: with its traceback, down to the view.
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert (
        record.getMessage()
        == "Forbidden (Permission denied): /api/v1/probe-api/probe/django-forbidden"
    )
    assert record.exc_info is not None
    assert traceback.extract_tb(record.exc_info[2])[-1].name == "django_forbidden"


@pytest.mark.django_db
def test_csrf_failure_is_a_403_envelope() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", {"username": "a", "password": "b"})

    body = assert_envelope(response, HTTPStatus.FORBIDDEN, "csrf_failed")
    assert body["message"] == "CSRF verification failed: CSRF cookie not set."


@override_settings(RATE_LIMIT_PER_MINUTE=2)
async def test_rate_limited_operation_is_a_429_envelope_with_retry_headers(
    async_client: AsyncClient,
) -> None:
    url = reverse("probe:probe-async")
    first = await async_client.get(url)
    second = await async_client.get(url)
    third = await async_client.get(url)

    assert (first.status_code, second.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert (first["RateLimit-Limit"], first["RateLimit-Remaining"]) == ("2", "1")
    assert (second["RateLimit-Limit"], second["RateLimit-Remaining"]) == ("2", "0")
    assert_envelope(third, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited")
    assert third["RateLimit-Limit"] == "2"
    assert third["RateLimit-Remaining"] == "0"
    reset = int(third["RateLimit-Reset"])
    assert 0 <= reset <= 60
    assert third["Retry-After"] == str(max(reset, 1))


def _assert_plain_view_limited(allowed: Any, limited: Any) -> None:
    assert allowed.status_code == HTTPStatus.OK
    assert (allowed["RateLimit-Limit"], allowed["RateLimit-Remaining"]) == ("1", "0")
    assert_envelope(limited, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited")
    assert limited["Retry-After"] == str(max(int(limited["RateLimit-Reset"]), 1))


@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=1)
def test_domain_errors_from_plain_django_views_are_envelopes() -> None:
    client = Client(raise_request_exception=False)
    url = reverse("probe-plain-limited")

    _assert_plain_view_limited(client.get(url), client.get(url))


@override_settings(RATE_LIMIT_STRICT_PER_MINUTE=1)
async def test_domain_errors_from_plain_async_views_are_envelopes() -> None:
    client = AsyncClient(raise_request_exception=False)
    url = reverse("probe-plain-limited")

    _assert_plain_view_limited(await client.get(url), await client.get(url))


def test_unhandled_exception_is_a_500_envelope_and_logs_the_traceback(caplog) -> None:
    client = Client(raise_request_exception=False)
    caplog.set_level(logging.ERROR, logger="django.request")

    response = client.get(reverse("probe:probe-boom"), HTTP_X_REQUEST_ID="trace-me-12345")

    body = assert_envelope(
        response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error", "Internal server error"
    )
    assert body["request_id"] == "trace-me-12345"
    assert "kaboom" not in response.content.decode()
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "kaboom with password=hunter2"
    assert record.request_id == "trace-me-12345"


async def test_unhandled_exception_is_a_500_envelope_on_the_async_path() -> None:
    client = AsyncClient(raise_request_exception=False)

    response = await client.get(reverse("probe:probe-boom"))

    assert_envelope(response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error")


@pytest.mark.parametrize("position", ["innermost", "below-envelope"])
def test_exception_raised_inside_middleware_is_a_500_envelope(position: str) -> None:
    chain = list(settings.MIDDLEWARE)
    if position == "innermost":
        chain.append(EXPLODING)
    else:
        chain.insert(chain.index("api.middleware.ErrorEnvelopeMiddleware") + 1, EXPLODING)
    client = Client(raise_request_exception=False)

    with override_settings(MIDDLEWARE=chain):
        response = client.get(reverse("health-live"), HTTP_X_EXPLODE="1")
        calm = client.get(reverse("health-live"))

    assert_envelope(response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert calm.status_code == HTTPStatus.OK


@override_settings(DEBUG=True)
def test_debug_500_is_still_an_envelope() -> None:
    client = Client(raise_request_exception=False)

    response = client.get(reverse("probe:probe-boom"))

    assert_envelope(response, HTTPStatus.INTERNAL_SERVER_ERROR, "server_error")


def test_too_many_query_parameters_is_a_400_envelope(client: Client) -> None:
    query = "&".join(f"p{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = client.get(f"{reverse('probe:probe-search')}?q=a&{query}")

    assert_envelope(response, HTTPStatus.BAD_REQUEST, "bad_request", "Too many parameters")


@pytest.mark.parametrize(
    "query",
    ["q=" + "a" * 100_000, "q=a&limit=" + "9" * 5000, "q=a&limit=-1", "limit=abc", "q=%FF%FE"],
    ids=["huge-string", "huge-int", "negative", "not-int", "not-utf8"],
)
def test_absurd_query_parameters_are_4xx_envelopes(client: Client, query: str) -> None:
    response = client.get(f"{reverse('probe:probe-search')}?{query}")

    if query == "q=%FF%FE":
        # Django decodes with replacement characters; the value is just a string.
        assert response.status_code == HTTPStatus.OK
        assert response.json() == {"q": "\ufffd\ufffd", "limit": 10}
    else:
        assert_envelope(response, HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/%FF%FE", HTTPStatus.NOT_FOUND, "not_found"),
        ("/%C0%AF", HTTPStatus.NOT_FOUND, "not_found"),
        # Matches the route; the path parameter then fails validation.
        ("/api/v1/probe-api/probe/items/%FF", HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error"),
    ],
)
def test_non_utf8_paths_are_4xx_envelopes(
    client: Client, path: str, status: HTTPStatus, code: str
) -> None:
    response = client.get(path)

    assert_envelope(response, status, code)


@override_settings(ALLOWED_HOSTS=["api.example.org"])
def test_disallowed_host_is_a_400_envelope(client: Client) -> None:
    response = client.get(reverse("probe:probe-async"), HTTP_HOST="evil.example.com")

    assert_envelope(response, HTTPStatus.BAD_REQUEST, "bad_request", "Bad request")


@pytest.mark.django_db
def test_a_views_own_json_error_report_becomes_the_envelopes_details(client: Client) -> None:
    # Readiness answers 503 with its component report; the report survives as details.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get(reverse("health-ready"))

    body = assert_envelope(
        response, HTTPStatus.SERVICE_UNAVAILABLE, "service_unavailable", "Service unavailable"
    )
    assert body["details"]["status"] == "unavailable"
    assert body["details"]["components"]["cache"]["status"] == "down"
    assert body["details"]["components"]["database"]["status"] == "up"


def test_every_operation_of_the_real_api_gets_the_standard_rate_limit() -> None:
    from api.api import api
    from api.throttling import standard_rate_limit

    assert (standard_rate_limit, "operation") in api.default_router._decorators


def test_a_domain_503_says_when_to_retry() -> None:
    response = domain_error_response(None, ServiceUnavailable("The graph store is down"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert json.loads(response.content)["code"] == "service_unavailable"


def _raise_holding(queryset: Any) -> None:
    raise RuntimeError("failed while holding a query set")


@pytest.mark.django_db
def test_the_debug_page_describes_a_query_set_without_running_it(
    django_assert_num_queries: Any,
) -> None:
    queryset = User.objects.filter(username="anyone")
    try:
        _raise_holding(queryset)
    except RuntimeError:
        exc_type, exc, tb = sys.exc_info()
    reporter = ExceptionReporter(None, exc_type, exc, tb)

    with django_assert_num_queries(0):
        page = reporter.get_traceback_html()

    assert "&lt;QuerySet of User, not evaluated here&gt;" in page
