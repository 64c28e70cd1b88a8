"""The benchmark's FastAPI peer does the cached read's work: a verified token (issuer, audience,
expiry), its family's state, the counter and the answer in one Redis script, the headers."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from types import ModuleType

import jwt
import pytest
import redis
from django.conf import settings
from redis import asyncio as aioredis

from tests.conftest import require_service
from tests.fixtures.asgi import asgi_request
from tooling.benchmark import peer as peer_module

SECRET = "peer-test-secret-that-is-long-enough-for-hs256"
ANSWER = b'{"username":"peer"}'


@pytest.fixture
async def peer(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ModuleType]:
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is unset; the peer keeps its state in Redis")
    # The peer reads its settings and makes its client at import: point them at the tests'.
    module = peer_module
    monkeypatch.setattr(module.SETTINGS, "JWT_SECRET", SECRET)
    module._verified.cache_clear()
    tests_redis = aioredis.Redis.from_url(str(settings.REDIS_URL))
    monkeypatch.setattr(module, "redis", tests_redis)
    monkeypatch.setattr(
        module, "family_limit_and_read", tests_redis.register_script(module._FAMILY_LIMIT_AND_READ)
    )
    client = redis.Redis.from_url(str(settings.REDIS_URL))
    client.set(module.ANSWER_KEY.format(route="profile"), ANSWER)
    try:
        yield module
    finally:
        await tests_redis.aclose()
        module._verified.cache_clear()
        client.delete(*client.keys("bench-peer:*"))
        client.close()


def token(*, family: str, audience: str = "musicbud-api", expires_in: int = 60) -> str:
    claims = {
        "sub": "7",
        "fam": family,
        "iss": "musicbud",
        "aud": audience,
        "exp": int(time.time()) + expires_in,
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


def family_set(peer: ModuleType, family: str, state: bytes) -> None:
    with redis.Redis.from_url(str(settings.REDIS_URL)) as client:
        client.set(peer.FAMILY_KEY.format(family=family), state)


def counters() -> list[bytes]:
    with redis.Redis.from_url(str(settings.REDIS_URL)) as client:
        return sorted(client.keys("bench-peer:rl:*"))


async def test_an_active_family_gets_the_cached_answer_with_every_header(
    peer: ModuleType,
) -> None:
    family = str(uuid.uuid4())
    family_set(peer, family, peer.FAMILY_ACTIVE)

    response = await asgi_request(
        peer.app,
        "/api/v1/me/profile",
        headers=[("Authorization", f"Bearer {token(family=family)}"), ("X-Request-ID", "abc")],
    )

    assert response.status == 200
    assert response.body == ANSWER
    assert response.headers["x-request-id"] == "abc"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["ratelimit-limit"] == str(peer.RATE_LIMIT_PER_MINUTE)
    assert response.headers["ratelimit-remaining"] == str(peer.RATE_LIMIT_PER_MINUTE - 1)
    assert len(counters()) == 1


@pytest.mark.parametrize("state", [b"revoked", None])
async def test_a_revoked_or_unknown_family_is_refused_and_counts_nothing(
    peer: ModuleType, state: bytes | None
) -> None:
    family = str(uuid.uuid4())
    if state is not None:
        family_set(peer, family, state)

    response = await asgi_request(
        peer.app,
        "/api/v1/me/profile",
        headers=[("Authorization", f"Bearer {token(family=family)}")],
    )

    assert response.status == 401
    assert response.body == b'{"detail":"Token revoked"}'
    assert counters() == []


@pytest.mark.parametrize(
    "bearer",
    [
        "",
        "not-a-jwt",
        token(family="f", audience="someone-else"),
        token(family="f", expires_in=-120),
    ],
)
async def test_a_token_that_does_not_verify_is_refused(peer: ModuleType, bearer: str) -> None:
    response = await asgi_request(
        peer.app, "/api/v1/me/profile", headers=[("Authorization", f"Bearer {bearer}")]
    )

    assert response.status == 401
    assert response.body == b'{"detail":"Invalid token"}'
    assert counters() == []
