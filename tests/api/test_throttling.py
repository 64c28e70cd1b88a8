"""enforce_rate_limit: policies, keys, atomic shared counters and the fail-open/closed setting."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import AsyncRequestFactory, RequestFactory, override_settings
from django_ratelimit import core as ratelimit_core
from redis import asyncio as aioredis

from api import throttling
from api.request_context import client_ip
from api.throttling import Policy, RateLimitState, enforce_rate_limit
from musicbud.cache import close_redis_clients
from musicbud.errors import RateLimited, ServiceUnavailable
from musicbud.models import User
from tests.conftest import require_service
from tests.factories import UserFactory

DEAD_REDIS = "redis://127.0.0.1:1/0"


def _request(ip: str = "203.0.113.7") -> Any:
    request: Any = AsyncRequestFactory().get("/api/v1/anything")
    request.META["REMOTE_ADDR"] = ip
    request.user = AnonymousUser()
    return request


@override_settings(RATE_LIMIT_PER_MINUTE=3)
async def test_standard_policy_allows_the_limit_then_rejects() -> None:
    remaining = []
    for _ in range(3):
        request = _request()
        await enforce_rate_limit(request, group="g", policy="standard")
        state = request.rate_limit
        assert isinstance(state, RateLimitState)
        assert state.limit == 3
        assert 0 < state.reset <= 60
        remaining.append(state.remaining)

    request = _request()
    with pytest.raises(RateLimited) as caught:
        await enforce_rate_limit(request, group="g", policy="standard")

    assert remaining == [2, 1, 0]
    assert caught.value.limit == 3
    assert caught.value.status_code == 429
    assert 1 <= caught.value.retry_after <= 60
    assert request.rate_limit.remaining == 0


@override_settings(RATE_LIMIT_PER_MINUTE=3)
async def test_a_window_that_ends_while_the_hit_is_counted_resets_in_one_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The clock read after the increment is past the window the hit was counted in (the
    # minute turned while Redis answered): the state says 1 s, never 0 or a whole new minute.
    real_time, real_window = time.time, ratelimit_core._get_window

    def window_then_the_minute_turns(value: str, period: int) -> int:
        window = real_window(value, period)
        monkeypatch.setattr(time, "time", lambda: real_time() + 61)
        return int(window)

    monkeypatch.setattr(throttling, "_get_window", window_then_the_minute_turns)
    request = _request()

    await enforce_rate_limit(request, group="g", policy="standard")

    assert request.rate_limit.reset == 1
    assert request.rate_limit.headers()["RateLimit-Reset"] == "1"


@override_settings(RATE_LIMIT_PER_MINUTE=50, RATE_LIMIT_STRICT_PER_MINUTE=2)
async def test_strict_policy_uses_the_strict_limit() -> None:
    await enforce_rate_limit(_request(), group="login", policy="strict")
    await enforce_rate_limit(_request(), group="login", policy="strict")

    with pytest.raises(RateLimited) as caught:
        await enforce_rate_limit(_request(), group="login", policy="strict")
    assert caught.value.limit == 2


@override_settings(
    RATE_LIMIT_PER_MINUTE=50, RATE_LIMIT_STRICT_PER_MINUTE=2, RATE_LIMIT_CLIENT_PER_MINUTE=3
)
async def test_client_policy_uses_the_client_limit() -> None:
    for _ in range(3):
        await enforce_rate_limit(_request(), group="register", policy="client")

    with pytest.raises(RateLimited) as caught:
        await enforce_rate_limit(_request(), group="register", policy="client")
    assert caught.value.limit == 3


@override_settings(RATE_LIMIT_PER_MINUTE=1)
async def test_groups_ips_and_explicit_keys_are_counted_separately() -> None:
    await enforce_rate_limit(_request("203.0.113.7"), group="a", policy="standard")
    # Another group, another IP, an explicit key: each has its own budget.
    await enforce_rate_limit(_request("203.0.113.7"), group="b", policy="standard")
    await enforce_rate_limit(_request("203.0.113.8"), group="a", policy="standard")
    await enforce_rate_limit(_request("203.0.113.7"), group="a", policy="standard", key="acct:x")

    with pytest.raises(RateLimited):
        await enforce_rate_limit(_request("203.0.113.7"), group="a", policy="standard")
    with pytest.raises(RateLimited):
        await enforce_rate_limit(
            _request("198.51.100.1"), group="a", policy="standard", key="acct:x"
        )


@override_settings(RATE_LIMIT_PER_MINUTE=1)
async def test_an_ipv6_client_is_counted_by_its_slash_64() -> None:
    await enforce_rate_limit(_request("2001:db8:1:2::1"), group="v6", policy="standard")

    # Another address in the same /64 (one subscriber) shares the budget ...
    with pytest.raises(RateLimited):
        await enforce_rate_limit(_request("2001:db8:1:2:ffff::9"), group="v6", policy="standard")
    # ... the next /64 is someone else.
    await enforce_rate_limit(_request("2001:db8:1:3::1"), group="v6", policy="standard")


@pytest.fixture
def two_users(db: None) -> tuple[User, User]:
    return UserFactory.create(), UserFactory.create()


@override_settings(RATE_LIMIT_PER_MINUTE=1)
async def test_authenticated_requests_are_keyed_per_user_not_per_ip(
    two_users: tuple[User, User],
) -> None:
    alice, bob = two_users
    first = _request("203.0.113.7")
    first.auth = alice
    await enforce_rate_limit(first, group="g", policy="standard")

    # Same user from a new address: same budget, now spent.
    moved = _request("198.51.100.9")
    moved.auth = alice
    with pytest.raises(RateLimited):
        await enforce_rate_limit(moved, group="g", policy="standard")

    # Another user behind the first user's address has a budget of their own.
    other = _request("203.0.113.7")
    other.auth = bob
    await enforce_rate_limit(other, group="g", policy="standard")
    assert other.rate_limit.remaining == 0


@override_settings(RATE_LIMIT_PER_MINUTE=5)
async def test_the_tightest_budget_is_recorded_on_the_request() -> None:
    request = _request()
    await enforce_rate_limit(request, group="wide", policy="standard")
    await enforce_rate_limit(request, group="wide", policy="standard", key="k")
    await enforce_rate_limit(request, group="wide", policy="standard", key="k")
    await enforce_rate_limit(request, group="other", policy="standard")

    assert request.rate_limit.group == "wide"
    assert request.rate_limit.remaining == 3


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2"),
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        (2, "198.51.100.1", "10.0.0.2"),  # fewer hops than proxies: header not believed
        (1, "not-an-ip", "10.0.0.2"),
        (1, "", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip_believes_only_trusted_proxies(proxies: int, forwarded: str, expected: str):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        assert client_ip(request) == expected


@pytest.fixture
async def dead_redis() -> AsyncIterator[None]:
    await close_redis_clients()
    with override_settings(REDIS_URL=DEAD_REDIS):
        yield
        await close_redis_clients()


@override_settings(RATE_LIMIT_FAIL_OPEN=True, RATE_LIMIT_PER_MINUTE=1)
async def test_redis_down_fails_open_and_logs(dead_redis: None, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="api.throttling")
    request = _request()

    for _ in range(3):
        await enforce_rate_limit(request, group="g", policy="standard")

    assert not hasattr(request, "rate_limit")
    messages = [r.getMessage() for r in caplog.records if r.name == "api.throttling"]
    assert messages == ["rate limit counter unavailable; failing open"] * 3


@override_settings(RATE_LIMIT_FAIL_OPEN=False, RATE_LIMIT_PER_MINUTE=100)
async def test_redis_down_fails_closed_and_logs(dead_redis: None, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="api.throttling")

    with pytest.raises(RateLimited) as caught:
        await enforce_rate_limit(_request(), group="g", policy="standard")

    assert caught.value.retry_after == 60
    messages = [r.getMessage() for r in caplog.records if r.name == "api.throttling"]
    assert messages == ["rate limit counter unavailable; failing closed"]


@pytest.mark.parametrize("policy", ["strict", "client"])
@override_settings(
    RATE_LIMIT_FAIL_OPEN=True, RATE_LIMIT_STRICT_PER_MINUTE=100, RATE_LIMIT_CLIENT_PER_MINUTE=100
)
async def test_redis_down_fails_the_authentication_policies_closed_whatever_the_setting(
    dead_redis: None, caplog, policy: Policy
) -> None:
    caplog.set_level(logging.ERROR, logger="api.throttling")
    request = _request()

    with pytest.raises(ServiceUnavailable) as caught:
        await enforce_rate_limit(request, group="auth.login.ip", policy=policy)

    assert caught.value.message == "A backing service is unavailable; try again shortly"
    assert not hasattr(request, "rate_limit")
    messages = [r.getMessage() for r in caplog.records if r.name == "api.throttling"]
    assert messages == ["rate limit counter unavailable; failing closed"]


@pytest.fixture
async def redis_counters() -> AsyncIterator[aioredis.Redis]:
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is not set")
    client = aioredis.Redis.from_url(str(settings.REDIS_URL))
    try:
        await client.ping()
    except OSError as exc:
        require_service("Redis", str(exc))
    yield client
    await client.aclose()
    await close_redis_clients()


@override_settings(RATE_LIMIT_PER_MINUTE=10)
async def test_concurrent_hits_are_counted_atomically_in_redis(
    redis_counters: aioredis.Redis,
) -> None:
    results = await asyncio.gather(
        *(enforce_rate_limit(_request(), group="burst", policy="standard") for _ in range(25)),
        return_exceptions=True,
    )

    assert results.count(None) == 10
    assert sum(isinstance(r, RateLimited) for r in results) == 15
    # The counter lives in Redis, where every worker sees it, and expires after the window.
    keys = [key async for key in redis_counters.scan_iter(match="musicbud:1:rl:*")]
    assert len(keys) == 1
    assert await redis_counters.get(keys[0]) == b"25"
    assert 0 < await redis_counters.ttl(keys[0]) <= 65


def test_a_planned_hit_is_made_once_per_window_and_follows_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lane's plan of a standard hit (``standard_hit_plan``) is remembered per group,
    identity, rate and window: the same object within a window, a new key in the next one,
    a new limit once the setting changes."""
    now = [1_700_000_000.0]
    monkeypatch.setattr(ratelimit_core.time, "time", lambda: now[0])
    # The real windows (the suite pins each identity's first window: tests/fixtures/http.py).
    monkeypatch.setattr(throttling, "_get_window", ratelimit_core._get_window)

    with override_settings(RATE_LIMIT_PER_MINUTE=120):
        first = throttling.standard_hit_plan(group="g", identity="user:1")
        again = throttling.standard_hit_plan(group="g", identity="user:1")
        other = throttling.standard_hit_plan(group="g", identity="user:2")
        now[0] += 60
        next_window = throttling.standard_hit_plan(group="g", identity="user:1")
    with override_settings(RATE_LIMIT_PER_MINUTE=30):
        tighter = throttling.standard_hit_plan(group="g", identity="user:1")

    assert again is first
    assert (first.limit, first.expire) == (120, 60 + ratelimit_core.EXPIRATION_FUDGE)
    assert other.counter_key != first.counter_key
    assert next_window.window == first.window + 60
    assert next_window.counter_key != first.counter_key
    assert tighter.limit == 30
    assert tighter.counter_key != next_window.counter_key
