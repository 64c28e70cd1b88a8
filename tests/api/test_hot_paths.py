"""The hot read paths stay on the event loop: zero thread-sensitive hops, zero ORM queries,
measured through the project's ASGI entry point and full middleware chain."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.urls import reverse

from fastpath.handler import HopFreeASGIHandler
from tests.conftest import require_service
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.asgi import AsgiResponse, HopRecorder, asgi_request, fast_path_only


async def bearer_headers(app: Any) -> list[tuple[str, str]]:
    """Log a fresh user in through the API; the Authorization header for its access token."""
    login_url = reverse("api-v1:auth-login")
    user = await sync_to_async(UserFactory.create)()
    response = await asgi_request(
        app,
        login_url,
        method="POST",
        headers=[("content-type", "application/json")],
        body=json.dumps({"username": user.username, "password": DEFAULT_PASSWORD}).encode(),
    )
    assert response.status == HTTPStatus.OK, response.body
    return [("authorization", f"Bearer {response.json()['access_token']}")]


async def cached_read(app: Any, url_name: str, *, before: Callable[[], None]) -> AsgiResponse:
    """A fresh user's second read of ``url_name``, answered as its first (which filled the
    caches: the user behind the token, the answer itself); ``before`` runs just before it."""
    url = reverse(url_name)
    headers = await bearer_headers(app)
    first = await asgi_request(app, url, headers=headers)
    assert first.status == HTTPStatus.OK, first.body
    before()

    cached = await asgi_request(app, url, headers=headers)

    assert cached.status == HTTPStatus.OK
    assert cached.json() == first.json()
    return cached


@fast_path_only
async def test_liveness_makes_no_hop_no_query_and_no_redis_command(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder, count_redis_commands: list[str]
) -> None:
    response = await asgi_request(hop_free_app, reverse("health-live"))

    assert response.status == HTTPStatus.OK
    assert count_sync_hops.thread_sensitive == []
    assert count_sync_hops.thread_free == []
    assert count_sync_hops.queries == []
    assert count_redis_commands == []


@fast_path_only
@pytest.mark.parametrize("url_name", ["api-v1:my-profile", "api-v1:my-buds"])
@pytest.mark.django_db(transaction=True)
async def test_cached_read_makes_no_hop_and_no_query(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder, url_name: str
) -> None:
    await cached_read(hop_free_app, url_name, before=count_sync_hops.clear)

    assert count_sync_hops.thread_sensitive == []
    assert count_sync_hops.queries == []


@pytest.mark.parametrize(
    ("url_name", "expected"),
    [
        # auth: the token family and the cached user (MGET); the rate limit's script, which
        # also reads what the view declared it reads next (the profile; the bud page and
        # its generation)
        ("api-v1:my-profile", ["MGET", "EVALSHA"]),
        ("api-v1:my-buds", ["MGET", "EVALSHA"]),
    ],
)
@pytest.mark.django_db(transaction=True)
@fast_path_only
async def test_cached_read_makes_two_redis_round_trips(
    hop_free_app: HopFreeASGIHandler,
    count_redis_commands: list[str],
    url_name: str,
    expected: list[str],
) -> None:
    if not settings.REDIS_URL:
        require_service("redis", "REDIS_URL is not set")
    cached = await cached_read(hop_free_app, url_name, before=count_redis_commands.clear)

    assert cached.headers["ratelimit-remaining"] == str(settings.RATE_LIMIT_PER_MINUTE - 2)
    assert count_redis_commands == expected


@pytest.mark.parametrize("url_name", ["api-v1:my-profile", "api-v1:my-buds"])
@pytest.mark.django_db(transaction=True)
async def test_cached_read_is_still_rejected_at_the_rate_limit(
    project_app: Any, url_name: str, settings: Any
) -> None:
    url = reverse(url_name)
    headers = await bearer_headers(project_app)
    settings.RATE_LIMIT_PER_MINUTE = 2

    responses = [await asgi_request(project_app, url, headers=headers) for _ in range(3)]

    assert [r.status for r in responses] == [HTTPStatus.OK, HTTPStatus.OK, 429]
    assert [r.headers["ratelimit-remaining"] for r in responses] == ["1", "0", "0"]
    assert {r.headers["ratelimit-limit"] for r in responses} == {"2"}
    rejected = responses[2]
    assert rejected.json()["code"] == "rate_limited"
    assert 1 <= int(rejected.headers["retry-after"]) <= 60
    assert rejected.headers["x-request-id"] == rejected.json()["request_id"]
