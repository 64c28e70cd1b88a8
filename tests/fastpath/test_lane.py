"""The cached-read lane answers with the full path's bytes: the project's application (lane in
front) against the hop-free handler alone (the full path), request by request — status, every
header in order (the request id sent by the client, so equal; the rate-limit state of the
request's own count), body — for hits, misses, revoked and expired tokens, the rate limit,
CORS and GZip; and a lane hit is one Redis round trip, a refused token counts nothing."""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from http import HTTPStatus
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.urls import reverse

from api.throttling import operation_group, standard_hit_plan
from config.asgi import build_application
from config.lifespan import LifespanApp
from fastpath.handler import HopFreeASGIHandler
from fastpath.lane import _DYNAMIC, CachedReadLane, Template, _learn, forget_templates
from musicbud.cache import redis_client
from musicbud.cache_keys import profile_cache_invalidate
from musicbud.services.tokens import TokenType, _encode, access_token_decode
from musicbud.token_store import family_revoke
from tests.api.test_hot_paths import bearer_headers
from tests.conftest import require_service
from tests.fixtures.asgi import AsgiResponse, asgi_request, fast_path_only

pytestmark = [fast_path_only, pytest.mark.django_db(transaction=True)]
ORIGIN = "https://app.example"
PROFILE = "api-v1:my-profile"
BUDS = "api-v1:my-buds"
# The legacy profile (the deployed apps' read of the same cached answer), at the root and under
# /v1/, with and without the trailing slash: each its own lane path.
LEGACY_PROFILE = "/me/profile"
LEGACY_PATHS = [LEGACY_PROFILE, "/me/profile/", "/v1/me/profile", "/v1/me/profile/"]
DART = "Dart/3.5 (dart:io)"


def url_of(target: str) -> str:
    """A URL name's path, or the (legacy) path itself."""
    return reverse(target) if ":" in target else target


@pytest.fixture
async def apps(settings: Any) -> AsyncIterator[tuple[LifespanApp, HopFreeASGIHandler]]:
    """(the project's application, the full path alone), on Redis."""
    if not settings.REDIS_URL:
        require_service("redis", "REDIS_URL is not set")
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    forget_templates()
    lane_app = build_application()
    full = HopFreeASGIHandler()
    yield lane_app, full
    for hook in lane_app.before_shutdown:
        await hook()
    await full.aclose()
    await sync_to_async(connections.close_all, thread_sensitive=True)()


def comparable(response: AsgiResponse) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers in order without the rate-limit state (compared on its own), body (an
    error envelope's timestamp, the time of the answer, blanked)."""
    headers = [
        (name, value)
        for name, value in response.header_list
        if name.lower() not in {"ratelimit-remaining", "ratelimit-reset"}
    ]
    body = re.sub(rb'"timestamp": "[^"]*"', b'"timestamp": ""', response.body)
    return response.status, headers, body


async def both(
    lane_app: Any, full: Any, url: str, headers: list[tuple[str, str]], **options: Any
) -> tuple[AsgiResponse, AsgiResponse]:
    """The same request (same client request id) through the lane app, then the full path."""
    headers = [*headers, ("x-request-id", "lane-test-request-1")]
    return (
        await asgi_request(lane_app, url, headers=headers, **options),
        await asgi_request(full, url, headers=headers, **options),
    )


async def counter(token_headers: list[tuple[str, str]], url_name: str) -> int:
    from api.buds.router import my_buds
    from api.legacy.me import me_profile
    from api.users.router import my_profile

    view = {PROFILE: my_profile, BUDS: my_buds}.get(url_name, me_profile)
    claims = access_token_decode(token=token_headers[0][1].split(" ", 1)[1])
    plan = standard_hit_plan(group=operation_group(view), identity=f"user:{claims.user_id}")
    return int(await redis_client().get(plan.counter_key) or 0)


async def long_bio(token_headers: list[tuple[str, str]]) -> None:
    """A profile GZip always shortens, even with its 100 random bytes (one near 200 bytes is
    compressed or not by the draw, on either path)."""
    from musicbud.models import User

    claims = access_token_decode(token=token_headers[0][1].split(" ", 1)[1])
    await User.objects.filter(pk=claims.user_id).aupdate(bio="Shoegaze and synthpop. " * 20)


@pytest.mark.parametrize("url_name", [PROFILE, BUDS, *LEGACY_PATHS])
@pytest.mark.parametrize(
    "extra",
    [[], [("origin", ORIGIN)], [("accept-encoding", "gzip")]],
    ids=["plain", "cors", "gzip"],
)
async def test_a_hit_is_the_full_paths_answer_in_one_round_trip(
    apps: tuple[Any, Any], count_redis_commands: list[str], url_name: str, extra: Any
) -> None:
    lane_app, full = apps
    url = url_of(url_name)
    token = await bearer_headers(full)
    await long_bio(token)
    headers = [*token, *extra]
    await asgi_request(full, url, headers=headers)  # fills the caches
    await asgi_request(lane_app, url, headers=headers)  # the full path: the shape reaches the view
    await asgi_request(lane_app, url, headers=headers)  # counted by the lane, the template learned
    count_redis_commands.clear()

    served = await asgi_request(
        lane_app, url, headers=[*headers, ("x-request-id", "lane-test-hit-1")]
    )

    assert count_redis_commands == ["EVALSHA"]
    reference = await asgi_request(
        full, url, headers=[*headers, ("x-request-id", "lane-test-hit-1")]
    )
    assert served.status == HTTPStatus.OK
    assert int(served.headers["ratelimit-remaining"]) == settings.RATE_LIMIT_PER_MINUTE - 4
    assert int(reference.headers["ratelimit-remaining"]) == settings.RATE_LIMIT_PER_MINUTE - 5
    assert int(served.headers["content-length"]) == len(served.body)
    assert ("content-encoding" in served.headers) == ("content-encoding" in reference.headers)
    if ("accept-encoding", "gzip") in extra and url_name != BUDS:  # the long bio's profile
        assert served.headers["content-encoding"] == "gzip"
    if "content-encoding" in reference.headers:  # bodies of 200 bytes or more
        # Django's GZip adds 0-100 random bytes (BREACH): equal once decompressed.
        assert served.headers["content-encoding"] == "gzip"
        assert gzip.decompress(served.body) == gzip.decompress(reference.body)
        drop = {"content-length"}
        assert [h for h in comparable(served)[1] if h[0].lower() not in drop] == [
            h for h in comparable(reference)[1] if h[0].lower() not in drop
        ]
    else:
        assert comparable(served) == comparable(reference)
    if extra and extra[0][0] == "origin":
        assert served.headers["access-control-allow-origin"] == ORIGIN
    assert served.headers["x-request-id"] == "lane-test-hit-1"


async def test_a_miss_goes_the_full_path(apps: tuple[Any, Any]) -> None:
    lane_app, full = apps
    url = reverse(PROFILE)
    token = await bearer_headers(full)
    claims = access_token_decode(token=token[0][1].split(" ", 1)[1])
    await asgi_request(lane_app, url, headers=token)
    await asgi_request(lane_app, url, headers=token)  # a template exists

    await sync_to_async(profile_cache_invalidate)(user_id=claims.user_id)
    served = await asgi_request(lane_app, url, headers=[*token, ("x-request-id", "lane-miss-1")])
    await sync_to_async(profile_cache_invalidate)(user_id=claims.user_id)
    reference = await asgi_request(full, url, headers=[*token, ("x-request-id", "lane-miss-1")])

    assert comparable(served) == comparable(reference)
    assert int(served.headers["ratelimit-remaining"]) == settings.RATE_LIMIT_PER_MINUTE - 3


@pytest.mark.parametrize("url_name", [PROFILE, BUDS, LEGACY_PROFILE])
async def test_a_revoked_token_is_refused_alike_and_spends_nothing(
    apps: tuple[Any, Any], url_name: str
) -> None:
    lane_app, full = apps
    url = url_of(url_name)
    token = await bearer_headers(full)
    await asgi_request(lane_app, url, headers=token)
    await asgi_request(lane_app, url, headers=token)
    claims = access_token_decode(token=token[0][1].split(" ", 1)[1])
    spent = await counter(token, url_name)

    await family_revoke(family_id=claims.family_id)
    served, reference = await both(lane_app, full, url, token)

    assert served.status == HTTPStatus.UNAUTHORIZED
    assert served.json()["code"] == "token_revoked"
    assert comparable(served) == comparable(reference)
    assert await counter(token, url_name) == spent


async def test_a_changed_password_is_refused_by_the_lane_script(apps: tuple[Any, Any]) -> None:
    lane_app, full = apps
    url = reverse(PROFILE)
    token = await bearer_headers(full)
    await asgi_request(lane_app, url, headers=token)
    await asgi_request(lane_app, url, headers=token)
    claims = access_token_decode(token=token[0][1].split(" ", 1)[1])
    spent = await counter(token, PROFILE)
    from musicbud.models import User

    user = await User.objects.aget(pk=claims.user_id)
    user.set_password("another-password-entirely")
    await user.asave()

    served, reference = await both(lane_app, full, url, token)

    assert served.status == HTTPStatus.UNAUTHORIZED
    assert served.json()["code"] == "token_revoked"
    assert comparable(served) == comparable(reference)
    assert await counter(token, PROFILE) == spent


async def test_an_expired_token_is_refused_alike(apps: tuple[Any, Any]) -> None:
    lane_app, full = apps
    url = reverse(PROFILE)
    token = await bearer_headers(full)
    claims = access_token_decode(token=token[0][1].split(" ", 1)[1])
    expired = _encode(
        user_id=claims.user_id,
        token_type=TokenType.ACCESS,
        jti="expired-jti",
        family_id=claims.family_id,
        stamp=claims.password_stamp,
        now=int(time.time()) - 10 * settings.JWT_ACCESS_TTL_SECONDS,
    )

    served, reference = await both(lane_app, full, url, [("authorization", f"Bearer {expired}")])

    assert served.status == HTTPStatus.UNAUTHORIZED
    assert served.json()["code"] == "token_expired"
    assert comparable(served) == comparable(reference)


async def test_the_rate_limit_rejects_alike(apps: tuple[Any, Any], settings: Any) -> None:
    lane_app, full = apps
    settings.RATE_LIMIT_PER_MINUTE = 3
    url = reverse(PROFILE)
    token = await bearer_headers(full)
    answers = [await asgi_request(lane_app, url, headers=token) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]

    served, reference = await both(lane_app, full, url, token)

    assert served.status == HTTPStatus.TOO_MANY_REQUESTS
    assert comparable(served) == comparable(reference)
    assert served.headers["ratelimit-remaining"] == reference.headers["ratelimit-remaining"] == "0"


async def test_a_cors_preflight_is_answered_alike(apps: tuple[Any, Any]) -> None:
    lane_app, full = apps
    served, reference = await both(
        lane_app,
        full,
        reverse(PROFILE),
        [("origin", ORIGIN), ("access-control-request-method", "GET")],
        method="OPTIONS",
    )

    assert served.status == HTTPStatus.OK
    assert served.headers["access-control-allow-origin"] == ORIGIN
    assert comparable(served) == comparable(reference)


async def test_a_request_the_middleware_refuses_is_never_counted(settings: Any) -> None:
    """Plain HTTP under SECURE_SSL_REDIRECT: the full path redirects before the view (and its
    rate limit); the lane never counts such a request either."""
    if not settings.REDIS_URL:
        require_service("redis", "REDIS_URL is not set")
    forget_templates()
    full = HopFreeASGIHandler()
    token = await bearer_headers(full)
    url = reverse(PROFILE)
    await asgi_request(full, url, headers=token)
    spent = await counter(token, PROFILE)
    settings.SECURE_SSL_REDIRECT = True
    lane_app = build_application()
    redirecting = HopFreeASGIHandler()
    try:
        headers = [*token, ("x-request-id", "lane-test-redirect")]
        answers = [await asgi_request(lane_app, url, headers=headers) for _ in range(3)]
        reference = await asgi_request(redirecting, url, headers=headers)
    finally:
        for hook in lane_app.before_shutdown:
            await hook()
        await redirecting.aclose()
        await full.aclose()
        await sync_to_async(connections.close_all, thread_sensitive=True)()

    assert {answer.status for answer in answers} == {HTTPStatus.MOVED_PERMANENTLY}
    assert comparable(answers[-1]) == comparable(reference)
    assert await counter(token, PROFILE) == spent


async def test_the_in_flight_gauge_comes_back_after_learned_and_served_answers(
    apps: tuple[Any, Any],
) -> None:
    from api import metrics

    lane_app, full = apps
    url = reverse(PROFILE)
    token = await bearer_headers(full)
    before = metrics.IN_FLIGHT._value.get()
    for _ in range(4):  # the full path, the learning answer, two from the template
        assert (await asgi_request(lane_app, url, headers=token)).status == HTTPStatus.OK

    assert metrics.IN_FLIGHT._value.get() == before


ROUTES = {
    PROFILE: "/api/v1/me/profile",
    LEGACY_PROFILE: "/me/profile",
    "/v1/me/profile/": "/v1/me/profile/",
}


def observed(route: str) -> dict[str, float]:
    """The metrics one cached read of ``route`` moves, as they stand."""
    from prometheus_client import REGISTRY

    samples = {
        "requests": (
            "musicbud_http_requests_total",
            {"route": route, "method": "GET", "status": "200"},
        ),
        "latencies": (
            "musicbud_http_request_duration_seconds_count",
            {"route": route, "method": "GET"},
        ),
        "legacy dart": (
            "musicbud_legacy_requests_total",
            {"route": "me/profile", "client": "dart", "status": "200"},
        ),
        "profile cache hits": (
            "musicbud_cache_lookups_total",
            {"cache": "profile", "result": "hit"},
        ),
    }
    return {name: REGISTRY.get_sample_value(*sample) or 0.0 for name, sample in samples.items()}


@pytest.mark.parametrize("url_name", [PROFILE, LEGACY_PROFILE, "/v1/me/profile/"])
async def test_a_hit_is_metered_and_logged_as_the_full_path_does(
    apps: tuple[Any, Any], count_redis_commands: list[str], json_logs: Any, url_name: str
) -> None:
    """The lane's own answer moves the metrics the full path moves (the request, its latency,
    the cache hit and, for a legacy path, the legacy usage by client family) and writes the
    same access line."""
    lane_app, full = apps
    url = url_of(url_name)
    route = ROUTES[url_name]
    token = await bearer_headers(full)
    headers = [*token, ("user-agent", DART), ("x-request-id", "lane-observed-1")]
    await asgi_request(lane_app, url, headers=headers)  # the full path: the shape reaches the view
    await asgi_request(lane_app, url, headers=headers)  # counted by the lane, the template learned

    def access_line() -> dict[str, Any]:
        [line] = [line for line in json_logs() if line["logger"] == "musicbud.access"][-1:]
        return {key: value for key, value in line.items() if key not in {"ts", "duration_ms"}}

    before = observed(route)
    count_redis_commands.clear()
    served = await asgi_request(lane_app, url, headers=headers)
    assert count_redis_commands == ["EVALSHA"]  # the lane answered
    by_lane = observed(route)
    lane_line = access_line()
    reference = await asgi_request(full, url, headers=headers)
    by_full_path = observed(route)
    full_line = access_line()

    assert served.status == reference.status == HTTPStatus.OK
    legacy = 1.0 if url_name != PROFILE else 0.0
    expected = {"requests": 1.0, "latencies": 1.0, "legacy dart": legacy, "profile cache hits": 1.0}
    assert {name: by_lane[name] - before[name] for name in before} == expected
    assert {name: by_full_path[name] - by_lane[name] for name in before} == expected
    assert lane_line == full_line
    assert lane_line["route"] == route
    assert lane_line["path"] == url
    assert lane_line["request_id"] == "lane-observed-1"
    assert lane_line["status"] == HTTPStatus.OK


def start(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": headers}


def gzip_scope(accept: bytes | None) -> dict[str, Any]:
    headers = [] if accept is None else [(b"accept-encoding", accept)]
    return {"type": "http", "path": "/me/profile", "headers": headers}


BODY = b'{"bio": "' + b"x" * 250 + b'"}'


@pytest.mark.parametrize(("accept", "learned"), [(b"gzip, br", False), (b"br", True), (None, True)])
def test_an_answer_gzip_left_uncompressed_by_its_draw_is_not_learned(
    accept: bytes | None, learned: bool
) -> None:
    """Left uncompressed for a client that accepts gzip (``Vary`` names Accept-Encoding): the
    draw of GZip's random bytes, not the shape's answer. For any other client it is the
    answer."""
    answer: list[Mapping[str, Any]] = [
        start([(b"Content-Length", b"260"), (b"Vary", b"origin, Accept-Encoding")]),
        {"type": "http.response.body", "body": BODY},
    ]

    template = _learn(answer, {}, gzip_scope(accept))

    assert (template is not None) is learned
    if template is not None:
        assert (template.body, template.gzipped) == (BODY, False)


def test_a_compressed_answer_is_learned_but_not_with_an_etag() -> None:
    compressed = gzip.compress(BODY)
    headers = [(b"Vary", b"Accept-Encoding"), (b"Content-Encoding", b"gzip")]
    body = {"type": "http.response.body", "body": compressed}

    template = _learn([start(headers), body], {}, gzip_scope(b"gzip"))
    with_etag = _learn([start([*headers, (b"ETag", b'W/"1"')]), body], {}, gzip_scope(b"gzip"))

    assert template is not None
    assert (template.body, template.gzipped) == (BODY, True)
    assert with_etag is None


async def test_a_body_gzip_cannot_shorten_is_sent_as_it_is() -> None:
    """As GZip: when the compressed body (random bytes included) is not shorter, the body goes
    uncompressed, without Content-Encoding; a body it shortens goes compressed."""
    incompressible = bytes(range(256))  # gzip adds ~20 bytes to it, whatever the draw
    template = Template(
        status=200,
        headers=(
            (b"Content-Length", _DYNAMIC),
            (b"Vary", b"Accept-Encoding"),
            (b"Content-Encoding", b"gzip"),
            (b"X-Request-ID", _DYNAMIC),
        ),
        body=incompressible,
        gzipped=True,
    )
    sent: list[Mapping[str, Any]] = []

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    own = {b"x-request-id": b"r-1"}
    await CachedReadLane._answer(template, own, send)
    await CachedReadLane._answer(replace(template, body=BODY), own, send)

    assert sent[0]["headers"] == [
        (b"Content-Length", b"256"),
        (b"Vary", b"Accept-Encoding"),
        (b"X-Request-ID", b"r-1"),
    ]
    assert sent[1]["body"] == incompressible
    assert [name for name, _ in sent[2]["headers"]] == [
        b"Content-Length",
        b"Vary",
        b"Content-Encoding",
        b"X-Request-ID",
    ]
    assert gzip.decompress(sent[3]["body"]) == BODY
    assert dict(sent[2]["headers"])[b"Content-Length"] == str(len(sent[3]["body"])).encode()


async def test_without_the_legacy_api_the_lane_serves_the_v1_reads(settings: Any) -> None:
    """The legacy routes unmounted (LEGACY_API_ENABLED off): the lane's table has no legacy
    path, every request is answered (liveness, the v1 profile from the lane), the legacy
    profile is the ordinary 404."""
    import importlib

    from django.urls import clear_url_caches

    import config.urls

    if not settings.REDIS_URL:
        require_service("redis", "REDIS_URL is not set")
    settings.LEGACY_API_ENABLED = False
    importlib.reload(config.urls)
    clear_url_caches()
    forget_templates()
    lane_app = build_application()
    full = HopFreeASGIHandler()
    try:
        token = await bearer_headers(full)
        live = await asgi_request(lane_app, reverse("health-live"))
        profiles = [await asgi_request(lane_app, reverse(PROFILE), headers=token) for _ in range(3)]
        legacy = await asgi_request(lane_app, LEGACY_PROFILE, headers=token)
    finally:
        for hook in lane_app.before_shutdown:
            await hook()
        await full.aclose()
        await sync_to_async(connections.close_all, thread_sensitive=True)()
        settings.LEGACY_API_ENABLED = True
        importlib.reload(config.urls)
        clear_url_caches()

    assert live.status == HTTPStatus.OK
    assert [answer.status for answer in profiles] == [HTTPStatus.OK] * 3
    assert legacy.status == HTTPStatus.NOT_FOUND
    assert legacy.json()["code"] == "not_found"
    assert "deprecation" not in legacy.headers
